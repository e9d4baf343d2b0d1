using System.Collections.Concurrent;
using System.Text;
using Marten;
using Npgsql;

namespace Actors.Storage.Streams;

/// <summary>
/// One SQL statement of an append batch, written once with Marten's <c>?</c> placeholders, that goes either into a
/// Marten session's unit of work (when an inline projection must see the batch) or into a plain Npgsql batch.
/// </summary>
public sealed record BatchStatement(string Sql, object[] Arguments)
{
    public void QueueIn(IDocumentSession session) => session.QueueSqlCommand(Sql, Arguments);

    /// <summary>The same statement with positional parameters ($1, $2 …), as Npgsql's batches take them.</summary>
    public NpgsqlBatchCommand ToBatchCommand()
    {
        var command = new NpgsqlBatchCommand(Positional(Sql, Arguments.Length));
        foreach (var argument in Arguments) command.Parameters.Add(new NpgsqlParameter { Value = argument });
        return command;
    }

    // The append batches' few statement shapes, rewritten once each instead of once per batch (a kilobyte and more of
    // text every time). Bounded, so a statement made with its values inlined could never fill it.
    private static readonly ConcurrentDictionary<string, string> s_positional = new(StringComparer.Ordinal);
    private const int PositionalKept = 64;

    private static string Positional(string sql, int arguments)
    {
        if (s_positional.TryGetValue(sql, out var known)) return known;
        var text = new StringBuilder(sql.Length + 16);
        var next = 0;
        foreach (var c in sql)
        {
            if (c == '?') text.Append('$').Append(++next);
            else text.Append(c);
        }
        if (next != arguments)
            throw new InvalidOperationException($"The statement has {next} placeholders for {arguments} arguments: {sql}");
        var positional = text.ToString();
        if (s_positional.Count < PositionalKept) s_positional.TryAdd(sql, positional);
        return positional;
    }
}
