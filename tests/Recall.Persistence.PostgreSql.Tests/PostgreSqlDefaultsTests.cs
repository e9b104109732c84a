namespace Recall.Persistence.PostgreSql.Tests;

/// <summary>What choosing the PostgreSQL store sets besides the stores (no server needed).</summary>
public sealed class PostgreSqlDefaultsTests
{
    [Fact]
    public void UsePostgreSql_writes_two_batches_at_once_unless_the_user_chose_otherwise()
    {
        Assert.Equal(2, new PersistenceOptions().UsePostgreSql("Host=127.0.0.1").MaxConcurrentWrites);
        Assert.Equal(1, new PersistenceOptions { MaxConcurrentWrites = 1 }.UsePostgreSql("Host=127.0.0.1").MaxConcurrentWrites);
        Assert.Equal(1, new PersistenceOptions().UsePostgreSql("Host=127.0.0.1").UseInMemory().MaxConcurrentWrites); // another store after it
    }
}
