using System.Text.Json;
using System.Text.Json.Serialization;
using Actors.Api.Tracking;

namespace Actors.Api;

/// <summary>The API's JSON: camelCase, enums as strings, no nulls omitted (a field is always there).</summary>
public static class ApiJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));
    public static readonly JsonSerializerOptions Indented = new(Options) { WriteIndented = true };

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        options.Converters.Add(new ReadableJsonElementConverter());
        return options;
    }

    /// <summary>
    /// A bound JsonElement (a segment's rule, a journey, a trigger's body) whose objects hold a property name that
    /// cannot be decoded (an escaped lone surrogate) makes every TryGetProperty on them throw: refused while binding,
    /// as a JSON error with its path, so no parser ever sees it.
    /// </summary>
    private sealed class ReadableJsonElementConverter : JsonConverter<JsonElement>
    {
        public override JsonElement Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            using var document = JsonDocument.ParseValue(ref reader);
            if (JsonText.UnreadableName(document.RootElement) is { } at)
                throw new JsonException($"An object at '{at}' has a property name that is not valid Unicode text (a lone surrogate such as \\udc00).");
            return document.RootElement.Clone();
        }

        public override void Write(Utf8JsonWriter writer, JsonElement value, JsonSerializerOptions options) => value.WriteTo(writer);
    }
}
