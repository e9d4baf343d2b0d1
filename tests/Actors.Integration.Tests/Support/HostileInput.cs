using System.Text;
using System.Text.Json.Nodes;
using CsCheck;

namespace Actors.Integration.Tests.Support;

/// <summary>
/// Generators of what a hostile or broken client sends: JSON values as raw text (so escapes such as \u0000 and \ud800,
/// 1e400 and nesting beyond any parser's depth reach the server as written), malformed bodies, and ids for routes.
/// </summary>
public static class HostileInput
{
    /// <summary>Fragments of string literals (inside the quotes, escapes as written).</summary>
    private static readonly Gen<string> Piece = Gen.OneOf(
        "a", "shoes", "\\u0000", "\\ud800", "\\udc00", "\\udfff\\ud800", "\\ud83d\\ude00", "😀", "𝕏", "\\u001f", "\\u0007", "\\n", "\\r\\n",
        "..", "/", "%2F", "%00", "é", "\\\"", "\\\\", "\\u202e", "\\ufeff", "\\uffff", "<script>", "' OR 1=1 --", "{{ visitor.email }}",
        "{% for x in (1..99999999) %}", "$.", "user:", "anon:", " ", "\\t", "🏳️‍🌈", "\\u2028");

    /// <summary>A JSON string literal: short and hostile, or long (10 KB to 1 MB).</summary>
    public static readonly Gen<string> String = Gen.Frequency(
        (12, Piece.Array[0, 8].Select(p => "\"" + string.Concat(p) + "\"")),
        (1, Gen.OneOf(10_240, 40_000, 1_048_576).Select(n => "\"" + new string('x', n) + "\"")),
        (1, Gen.Int[100, 3_000].Select(n => "\"" + string.Concat(Enumerable.Repeat("\\u0000", n)) + "\"")));

    /// <summary>Numbers JSON allows but the domain cannot hold (and a few it must never see as numbers).</summary>
    public static readonly Gen<string> Number = Gen.OneOf(
        "0", "-0", "1", "-1", "0.5", "1e400", "-1e400", "1e-400", "2147483648", "-2147483649", "9223372036854775808",
        "-9223372036854775809", "123456789012345678901234567890123456789", "1.7976931348623157e308", "4.9e-324", "1E+2",
        "79228162514264337593543950336", "1e28", "0.0000000000000000000000000001", "1.5", "100000000000000000000000");

    private static readonly Gen<string> Scalar = Gen.Frequency(
        (5, String), (4, Number), (1, Gen.OneOf("true", "false", "null")));

    /// <summary>Nesting at and beyond the usual limits (System.Text.Json: 64), as arrays or objects.</summary>
    public static readonly Gen<string> Deep = Gen.Select(Gen.OneOf(32, 63, 64, 65, 200, 1_000, 20_000), Gen.Bool, (depth, objects) =>
        objects
            ? string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth)
            : new string('[', depth) + "1" + new string(']', depth));

    /// <summary>Any JSON value: scalars, trees of arrays and objects (hostile names too), deep nesting, big arrays.</summary>
    public static readonly Gen<string> Value = Gen.Recursive<string>((depth, value) => depth >= 4
        ? Scalar
        : Gen.Frequency(
            (6, Scalar),
            (2, value.Array[0, 6].Select(items => "[" + string.Join(",", items) + "]")),
            (2, Gen.Select(String, value).Array[0, 5].Select(members => "{" + string.Join(",", members.Select(m => m.Item1 + ":" + m.Item2)) + "}")),
            (1, Deep),
            (1, Gen.Select(Number, Gen.OneOf(1_000, 10_000, 60_000)).Select((item, n) => "[" + string.Join(",", Enumerable.Repeat(item, n)) + "]"))));

    /// <summary>Bodies that are not JSON, or JSON of the wrong kind, as bytes (invalid UTF-8 included).</summary>
    public static readonly Gen<byte[]> Malformed = Gen.Frequency(
        (8, Gen.OneOf(
            "", " ", "{", "}", "[", "{\"a\":}", "[1,]", "{'a':1}", "nul", "\"unterminated", "{} x", "{\"a\":1,\"a\":2}", "/* c */{}",
            "null", "0", "1e400", "\"text\"", "[]", "[[]]", "true", "\u0000", "{\"a\":\"\u0001\"}", "NaN", "Infinity", "{\"a\":NaN}",
            "{\"a\":01}", "{\"a\":.5}", "{\"a\" 1}", "\ufeff{}", "{\"\\ud800\":1}", "{\"\\u0000\":1}")
            .Select(Encoding.UTF8.GetBytes)),
        (1, Gen.OneOf<byte[]>([0xFF, 0xFE, 0x7B, 0x7D], [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D], [0x22, 0xED, 0xA0, 0x80, 0x22],
            [0x1F, 0x8B, 0x08, 0x00]))); // the last: the start of a gzip stream, under no Content-Encoding

    /// <summary>Route ids as they appear in a path (already escaped where escaping is the point).</summary>
    public static readonly Gen<string> Id = Gen.Frequency(
        (3, Gen.Int[0, 1_000_000].Select(i => $"fz-{i}")),
        (8, Gen.OneOf(
            "", "a%2Fb", "a/b", ".", "..", "%2E%2E", "..%2F..", "%2F", "a%00b", "%ED%A0%80", "%F0", "%C3%28", "a%20b", "a b", "user:", "anon:",
            "user:%2F..", "a%3Fb", "a%23b", "%25", "%25%32%46", "~", "-", "_", "CON", "a;b", "a%5Cb", "é", "%C3%A9", "😀", "%F0%9F%98%80",
            "user:😀", "a%0Ab", "a%0D%0Ab", "%E2%80%AE", "a%7Bb%7D", "user:user:x", "anon:user:x", new string('x', 10_240), "user:" + new string('z', 2_000),
            new string('y', 300), string.Concat(Enumerable.Repeat("%F0%9F%98%80", 600)))));

    /// <summary>Query values for the parameters routes read (numbers, times, cursors, names).</summary>
    public static readonly Gen<string> QueryValue = Gen.OneOf(
        "", "0", "-1", "1", "2147483648", "99999999999999999999", "1e400", "abc", "%00", "%ED%A0%80", "true", "1.5", "9999-12-31T23:59:59Z",
        "0001-01-01", "-0001-01-01T00:00:00Z", "2026-13-45", "%2F..", new string('q', 10_240), "NaN", "%F0%9F%98%80", "a,b");

    /// <summary>
    /// The run's base seed: ACTORS_FUZZ_SEED (a number, or "random" for new cases each run), else a fixed one, so every
    /// run sends the same cases and a failure is reproduced by running again.
    /// </summary>
    public static readonly long BaseSeed = Environment.GetEnvironmentVariable("ACTORS_FUZZ_SEED") switch
    {
        "random" => Random.Shared.NextInt64(),
        var text when long.TryParse(text, out var seed) => seed,
        _ => 16,
    };

    /// <summary>How many cases: <paramref name="count"/> times ACTORS_FUZZ_ITER (default 1).</summary>
    public static long Iterations(long count) =>
        int.TryParse(Environment.GetEnvironmentVariable("ACTORS_FUZZ_ITER"), out var factor) && factor > 0 ? count * factor : count;

    /// <summary>What a failure message says to reproduce it.</summary>
    public static string Reproduce => $"ACTORS_FUZZ_SEED={BaseSeed}";

    /// <summary>
    /// <paramref name="count"/> cases of <paramref name="gen"/>, the same for the same base seed and name (CsCheck's own
    /// sampling starts from a seed but continues at random; here every case follows from the seed).
    /// </summary>
    public static IEnumerable<T> Cases<T>(Gen<T> gen, string name, long count)
    {
        long h = 1469598103934665603;
        foreach (var ch in name) h = (h ^ ch) * 1099511628211;
        var pcg = new PCG((uint)(h & 0x7fffffff) | 1u, (ulong)(BaseSeed ^ h));
        for (var i = 0; i < count; i++) yield return gen.Generate(pcg, null, out _);
    }

    /// <summary>
    /// One mutation of a valid body: a field's value replaced by a hostile one, a field removed, a hostile field added,
    /// the whole body replaced by a hostile value or by the body repeated many times as an array.
    /// </summary>
    public static string Mutate(string template, int kind, int pick, string hostile)
    {
        var root = JsonNode.Parse(template)!;
        var slots = new List<(JsonNode Parent, object Key)>();
        Collect(root, slots);
        const string marker = "\u0001fuzz\u0001";
        switch (kind % 5)
        {
            case 0 when slots.Count > 0:
                Replace(slots[pick % slots.Count], JsonValue.Create(marker));
                break;
            case 1 when slots.Count > 0:
                var (parent, key) = slots[pick % slots.Count];
                if (parent is JsonObject o) o.Remove((string)key);
                else ((JsonArray)parent).RemoveAt((int)key);
                return root.ToJsonString();
            case 2:
                var objects = slots.Select(s => s.Parent).OfType<JsonObject>().Prepend(root as JsonObject).OfType<JsonObject>().ToList();
                if (objects.Count == 0) return hostile;
                objects[pick % objects.Count][marker] = 1; // the name is replaced below by a hostile string literal
                return root.ToJsonString().Replace(Quoted(marker), hostile.StartsWith('"') ? hostile : "\"k\"", StringComparison.Ordinal);
            case 3:
                return hostile;
            default:
                return "[" + string.Join(",", Enumerable.Repeat(template, 1 + pick % 60)) + "]";
        }
        return root.ToJsonString().Replace(Quoted(marker), hostile, StringComparison.Ordinal);
    }

    private static string Quoted(string marker) => JsonValue.Create(marker)!.ToJsonString();

    private static void Replace((JsonNode Parent, object Key) slot, JsonNode value)
    {
        if (slot.Parent is JsonObject o) o[(string)slot.Key] = value;
        else ((JsonArray)slot.Parent)[(int)slot.Key] = value;
    }

    private static void Collect(JsonNode node, List<(JsonNode, object)> slots)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, child) in o.ToList())
                {
                    slots.Add((o, name));
                    if (child is not null) Collect(child, slots);
                }
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    slots.Add((a, i));
                    if (a[i] is { } child) Collect(child, slots);
                }
                break;
        }
    }
}
