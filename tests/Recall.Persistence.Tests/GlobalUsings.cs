global using Recall.Actors;
