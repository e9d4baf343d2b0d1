using System.Text;

namespace Actors.Api.Import;

/// <summary>RFC 4180 CSV: comma-separated, double quotes around fields that hold commas, quotes or line breaks.</summary>
public static class Csv
{
    public static async IAsyncEnumerable<List<string>> ReadAsync(TextReader reader)
    {
        var record = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        var any = false;
        var buffer = new char[8192];
        int read;
        char? pending = null;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            for (var i = 0; i < read; i++)
            {
                var c = buffer[i];
                if (pending == '"')
                {
                    pending = null;
                    if (c == '"') { field.Append('"'); continue; }
                    quoted = false; // the quote closed the field; fall through to handle c
                }

                if (quoted)
                {
                    if (c == '"') pending = '"';
                    else field.Append(c);
                    continue;
                }

                switch (c)
                {
                    case '"' when field.Length == 0:
                        quoted = true;
                        any = true;
                        break;
                    case ',':
                        record.Add(field.ToString());
                        field.Clear();
                        any = true;
                        break;
                    case '\r':
                        break;
                    case '\n':
                        if (any || field.Length > 0)
                        {
                            record.Add(field.ToString());
                            yield return record;
                        }
                        record = [];
                        field.Clear();
                        any = false;
                        break;
                    default:
                        field.Append(c);
                        any = true;
                        break;
                }
            }
        }
        if (any || field.Length > 0 || pending is not null)
        {
            record.Add(field.ToString());
            yield return record;
        }
    }
}
