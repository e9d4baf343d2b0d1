using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Actors.Benchmarks;

/// <summary>
/// One line of the report. <see cref="Value"/> is measured in the same run as <see cref="Reference"/>;
/// <see cref="Met"/> is null for figures that are reported without a target.
/// </summary>
public sealed record Scenario(
    string Name,
    double? Value,
    string Unit,
    double? Reference,
    double? Ratio,
    string? Target,
    bool? Met,
    string Notes);

/// <summary>Counts printed after the table (figures that explain a row, not figures with a target).</summary>
public sealed record DiagnosticsSection(string Title, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows, string? Note);

public sealed record BenchmarkReport(string Date, string Machine, string Mode, IReadOnlyList<Scenario> Scenarios, IReadOnlyList<DiagnosticsSection> Diagnostics);

public static class Report
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Machine()
    {
        var cpu = "";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "";
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024);
        return $"{Environment.MachineName}: {Environment.ProcessorCount} cores{(cpu.Length > 0 ? $" ({cpu})" : "")}, {memory:N0} GB, " +
               $"{RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}";
    }

    public static string Markdown(BenchmarkReport report)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"Benchmark ({report.Mode}), {report.Date}, {report.Machine}");
        s.AppendLine();
        s.AppendLine("| scenario | value | reference | ratio | target | met | how |");
        s.AppendLine("| --- | ---: | ---: | ---: | --- | --- | --- |");
        foreach (var x in report.Scenarios)
        {
            var value = x.Value is { } v ? $"{Format(v)} {x.Unit}" : "not measurable yet";
            var reference = x.Reference is { } r ? Format(r) : "–";
            var ratio = x.Ratio is { } q ? $"{q:0.00}×" : "–";
            var met = x.Met switch { true => "yes", false => "**no**", null => "–" };
            s.AppendLine(CultureInfo.InvariantCulture, $"| {x.Name} | {value} | {reference} | {ratio} | {x.Target ?? "–"} | {met} | {x.Notes.Replace("|", "/", StringComparison.Ordinal)} |");
        }
        foreach (var d in report.Diagnostics)
        {
            s.AppendLine();
            s.AppendLine(CultureInfo.InvariantCulture, $"{d.Title}");
            s.AppendLine();
            s.AppendLine(CultureInfo.InvariantCulture, $"| {string.Join(" | ", d.Columns)} |");
            s.AppendLine(CultureInfo.InvariantCulture, $"| --- |{string.Concat(Enumerable.Repeat(" ---: |", d.Columns.Count - 1))}");
            foreach (var row in d.Rows)
                s.AppendLine(CultureInfo.InvariantCulture, $"| {string.Join(" | ", row.Select(c => c.Replace("|", "/", StringComparison.Ordinal)))} |");
            if (d.Note is not null)
            {
                s.AppendLine();
                s.AppendLine(d.Note);
            }
        }
        return s.ToString();
    }

    public static async Task<string> WriteJsonAsync(BenchmarkReport report, string name = "latest.json")
    {
        var folder = Path.Combine(RepositoryRoot(), "artifacts", "benchmarks");
        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, name);
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(report, Json));
        return file;
    }

    private static string Format(double v) => Math.Abs(v) switch
    {
        >= 100 => v.ToString("N0", CultureInfo.InvariantCulture),
        >= 10 => v.ToString("N1", CultureInfo.InvariantCulture),
        _ => v.ToString("N2", CultureInfo.InvariantCulture),
    };

    /// <summary>The folder with Actors.sln above the working folder or the binaries; else the working folder.</summary>
    private static string RepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Actors.sln"))) return dir.FullName;
        }
        return Directory.GetCurrentDirectory();
    }
}
