using Actors.Silo.Commands;
using Actors.Silo.Hosting;

// Admin commands (replay, keys) share the host's configuration and database, but start no silo.
if (AdminCommands.IsCommand(args)) return await AdminCommands.RunAsync(args);
if (BackupCommands.IsCommand(args)) return await BackupCommands.RunAsync(args);

await using var host = await ActorsHost.CreateAsync(args);
await host.App.RunAsync();
return 0;
