global using static Recall.Persistence.Tests.Support.Eventually;
global using Recall.Actors;
global using Recall.Persistence.Journal;
global using Recall.Persistence.Serialization;
global using Recall.Persistence.Snapshots;
global using Recall.Persistence.Tests.Support;
global using Recall.TestKit;
global using Recall.TestKit.Persistence;
global using Recall.Persistence.Query;
