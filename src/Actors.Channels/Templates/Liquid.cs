using System.Diagnostics;
using System.Text;
using System.Text.Encodings.Web;
using Fluid;
using Fluid.Values;

namespace Actors.Channels.Templates;

/// <summary>A template went past a render limit (steps, time, size): it is refused, never left to run on.</summary>
public sealed class TemplateLimitException(string message) : Exception(message);

/// <summary>
/// The one Fluid parser and options every template uses. Renders are bounded four ways, so that no template (saved by
/// a marketer or sent inline to a preview) can hang or exhaust a silo: <see cref="MaxSteps"/> statements, a wall-clock
/// deadline checked by every filter, assign and capture, values of at most <see cref="MaxValueLength"/> characters
/// (string filters that double a value in a loop stop there), and output of at most <see cref="MaxOutputLength"/>.
/// </summary>
internal static class Liquid
{
    public const int MaxSteps = 50_000;
    public const int MaxRecursion = 50;
    public const int MaxValueLength = 256 * 1024;
    public const int MaxListLength = 10_000;
    public const int MaxOutputLength = 1024 * 1024;
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(2);

    public static readonly FluidParser Parser = new();

    public static readonly TemplateOptions Options = CreateOptions();

    private const string DeadlineKey = "actors.deadline";

    private static TemplateOptions CreateOptions()
    {
        var options = new TemplateOptions
        {
            MaxSteps = MaxSteps,
            MaxRecursion = MaxRecursion,
            // The default member access strategy: no CLR type is registered, so only the model's dictionaries and lists are reachable.
            ModelNamesComparer = StringComparer.Ordinal,
            CultureInfo = System.Globalization.CultureInfo.InvariantCulture,
            TimeZone = TimeZoneInfo.Utc,
        };
        foreach (var (name, filter) in options.Filters.ToList()) options.Filters.AddFilter(name, Guarded(name, filter));
        options.Captured = (_, value, context) => { Check(value, context, "capture"); return ValueTask.FromResult(value); };
        options.Assigned = (_, value, context) => { Check(value, context, "assign"); return ValueTask.FromResult(value); };
        return options;
    }

    public static bool HasFilter(string name) => Options.Filters.TryGetValue(name, out _);

    /// <summary>A render context with the model's roots set and the deadline started.</summary>
    public static TemplateContext Context(IReadOnlyDictionary<string, object?> model) => Context(Values(model));

    /// <summary>The model's values as Fluid takes them: made once per message, shared by the contexts of its parts (values do not change).</summary>
    public static KeyValuePair<string, FluidValue>[] Values(IReadOnlyDictionary<string, object?> model)
    {
        var values = new KeyValuePair<string, FluidValue>[model.Count];
        var i = 0;
        foreach (var (name, value) in model) values[i++] = new(name, FluidValue.Create(value, Options));
        return values;
    }

    /// <summary>A fresh context per part, so what one part assigns is not seen by the next.</summary>
    public static TemplateContext Context(KeyValuePair<string, FluidValue>[] values)
    {
        var context = new TemplateContext(Options);
        foreach (var (name, value) in values) context.SetValue(name, value);
        context.AmbientValues[DeadlineKey] = Stopwatch.GetTimestamp() + (long)(Deadline.TotalSeconds * Stopwatch.Frequency);
        return context;
    }

    public static async Task<string> RenderAsync(IFluidTemplate template, TemplateContext context, TextEncoder encoder)
    {
        using var writer = new BoundedWriter(context);
        await template.RenderAsync(writer, encoder, context);
        return writer.ToString();
    }

    private static FilterDelegate Guarded(string name, FilterDelegate filter) => async (input, arguments, context) =>
    {
        CheckDeadline(context);
        var result = await filter(input, arguments, context);
        Check(result, context, $"the {name} filter");
        return result;
    };

    private static void Check(FluidValue value, TemplateContext context, string what)
    {
        CheckDeadline(context);
        switch (value)
        {
            case StringValue s when s.ToStringValue().Length > MaxValueLength:
                throw new TemplateLimitException($"{what} made a value longer than {MaxValueLength} characters.");
            case ArrayValue a when a.Values.Count > MaxListLength:
                throw new TemplateLimitException($"{what} made a list longer than {MaxListLength} items.");
        }
    }

    internal static void CheckDeadline(TemplateContext context)
    {
        if (context.AmbientValues.TryGetValue(DeadlineKey, out var deadline) && deadline is long at && Stopwatch.GetTimestamp() > at)
            throw new TemplateLimitException($"rendering took longer than {Deadline.TotalSeconds:0} seconds.");
    }

    /// <summary>Collects output and refuses to grow past <see cref="MaxOutputLength"/>.</summary>
    private sealed class BoundedWriter(TemplateContext context) : TextWriter
    {
        private readonly StringBuilder _text = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            Grow(1);
            _text.Append(value);
        }

        public override void Write(string? value)
        {
            if (value is null) return;
            Grow(value.Length);
            _text.Append(value);
        }

        public override void Write(char[] buffer, int index, int count)
        {
            Grow(count);
            _text.Append(buffer, index, count);
        }

        public override void Write(ReadOnlySpan<char> buffer)
        {
            Grow(buffer.Length);
            _text.Append(buffer);
        }

        public override Task WriteAsync(char value) { Write(value); return Task.CompletedTask; }

        public override Task WriteAsync(string? value) { Write(value); return Task.CompletedTask; }

        public override Task WriteAsync(char[] buffer, int index, int count) { Write(buffer, index, count); return Task.CompletedTask; }

        public override Task WriteAsync(ReadOnlyMemory<char> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return Task.CompletedTask;
        }

        private void Grow(int by)
        {
            if (_text.Length + by > MaxOutputLength)
                throw new TemplateLimitException($"the output is longer than {MaxOutputLength} characters.");
            if (by > 64) CheckDeadline(context);
        }

        public override string ToString() => _text.ToString();
    }
}
