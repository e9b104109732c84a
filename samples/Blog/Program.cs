// The blog sample: blog posts as typed persistent actors on SQLite, and the published ones
// projected, exactly once, into the table published_posts of the same file.
//   dotnet run --project samples/Blog                 (a fresh file, removed afterwards)
//   dotnet run --project samples/Blog -- --db blog.db (keeps the file; run again to see rejections)
using Microsoft.Data.Sqlite;
using Recall.Samples.Blog;

var keep = args is ["--db", _];
var path = keep ? Path.GetFullPath(args[1]) : Path.Combine(Path.GetTempPath(), $"recall-blog-{Guid.NewGuid():N}.db");
try
{
    Console.WriteLine($"blog in {path}");
    await BlogDemo.RunAsync(path, Console.Out);
}
finally
{
    if (!keep)
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }
    }
}
