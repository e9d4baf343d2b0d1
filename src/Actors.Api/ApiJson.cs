using System.Text.Json;
using System.Text.Json.Serialization;

namespace Actors.Api;

/// <summary>The API's JSON: camelCase, enums as strings, no nulls omitted (a field is always there).</summary>
public static class ApiJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));
    public static readonly JsonSerializerOptions Indented = new(Options) { WriteIndented = true };

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        return options;
    }
}
