using System.Text.RegularExpressions;
using Npgsql;

namespace Recall.Projections.PostgreSql;

/// <summary>
/// The PostgreSQL database and schema a projection writes its read model and offsets to (often
/// the journal's own schema): the offsets table <c>recall_projection_offsets</c> is created there.
/// </summary>
public sealed partial class PostgreSqlProjectionDatabase
{
    /// <summary>The database <paramref name="connectionString"/> names (an Npgsql connection string).</summary>
    /// <exception cref="ArgumentException">The connection string is empty or not valid.</exception>
    public PostgreSqlProjectionDatabase(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        try
        {
            _ = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception exception) when (exception is ArgumentException or FormatException or InvalidCastException)
        {
            throw new ArgumentException($"Not a valid Npgsql connection string: {exception.Message}", nameof(connectionString), exception);
        }

        ConnectionString = connectionString;
    }

    /// <summary>The Npgsql connection string.</summary>
    public string ConnectionString { get; }

    /// <summary>
    /// The schema of the offsets table (created if missing, which needs the CREATE privilege).
    /// Default <c>recall</c>, the journal's default schema. Letters, digits and underscores, not
    /// starting with a digit, at most 63 characters.
    /// </summary>
    public string Schema
    {
        get;
        init
        {
            if (value is null || !SchemaName().IsMatch(value))
            {
                throw new ArgumentException($"'{value}' is not a valid schema name: use letters, digits and underscores, not starting with a digit, at most 63 characters.", nameof(Schema));
            }

            field = value;
        }
    } = "recall";

    /// <summary>The most connections the projection's pool opens. Default 4: a projection uses one at a time, plus status and management calls.</summary>
    public int MaxConnections
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(MaxConnections));
            field = value;
        }
    } = 4;

    /// <summary>The quoted schema, ready to prefix table names.</summary>
    internal string QuotedSchema => "\"" + Schema + "\"";

    internal NpgsqlDataSource CreateDataSource()
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { MaxPoolSize = MaxConnections };
        builder.ApplicationName ??= "recall-projections";
        builder.MinPoolSize = Math.Min(builder.MinPoolSize, builder.MaxPoolSize);
        return NpgsqlDataSource.Create(builder.ConnectionString);
    }

    /// <inheritdoc />
    public override string ToString() => $"schema '{Schema}' of {new NpgsqlConnectionStringBuilder(ConnectionString) { Password = null }}";

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex SchemaName();
}
