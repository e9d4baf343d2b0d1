using System.Collections.Concurrent;
using System.Text;
using Marten;
using Npgsql;

namespace Actors.Storage.Streams;

/// <summary>
/// One SQL statement of an append batch, written once with Marten's <c>?</c> placeholders, that goes either into a
/// Marten session's unit of work (when an inline projection must see the batch) or into a plain Npgsql batch.
/// </summary>
public sealed record BatchStatement(BatchStatement.Text Statement, object[] Arguments)
{
    public string Sql => Statement.Sql;

    public void QueueIn(IDocumentSession session) => session.QueueSqlCommand(Sql, Arguments);

    /// <summary>The same statement with positional parameters ($1, $2 …), as Npgsql's batches take them.</summary>
    public NpgsqlBatchCommand ToBatchCommand()
    {
        if (Statement.Placeholders != Arguments.Length)
            throw new InvalidOperationException($"The statement has {Statement.Placeholders} placeholders for {Arguments.Length} arguments: {Sql}");
        var command = new NpgsqlBatchCommand(Statement.Positional);
        foreach (var argument in Arguments) command.Parameters.Add(new NpgsqlParameter { Value = argument });
        return command;
    }

    /// <summary>
    /// A statement's text in both forms, made once per name and schema: every append batch used to write its statements'
    /// text again, and rewrite it with positional parameters (a kilobyte and more each time).
    /// </summary>
    public sealed class Text
    {
        private static readonly ConcurrentDictionary<(string Name, string Schema), Text> s_known = new();

        private Text(string sql)
        {
            Sql = sql;
            var positional = new StringBuilder(sql.Length + 16);
            foreach (var c in sql)
            {
                if (c == '?') positional.Append('$').Append(++Placeholders);
                else positional.Append(c);
            }
            Positional = positional.ToString();
        }

        /// <summary>With Marten's <c>?</c> placeholders.</summary>
        public string Sql { get; }

        /// <summary>With $1, $2 … in their place.</summary>
        public string Positional { get; }

        public int Placeholders { get; }

        /// <summary>The statement <paramref name="name"/> of <paramref name="schema"/>, written by <paramref name="write"/> the first time.</summary>
        public static Text For(string name, string schema, Func<string, string> write) =>
            s_known.GetOrAdd((name, schema), static (key, write) => new Text(write(key.Schema)), write);
    }
}
