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
        var text = new StringBuilder(Sql.Length + 16);
        var next = 0;
        foreach (var c in Sql)
        {
            if (c == '?') text.Append('$').Append(++next);
            else text.Append(c);
        }
        if (next != Arguments.Length)
            throw new InvalidOperationException($"The statement has {next} placeholders for {Arguments.Length} arguments: {Sql}");
        var command = new NpgsqlBatchCommand(text.ToString());
        foreach (var argument in Arguments) command.Parameters.Add(new NpgsqlParameter { Value = argument });
        return command;
    }
}
