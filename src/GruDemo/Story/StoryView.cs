using GruDemo.Load;

namespace GruDemo.Story;

/// <summary>A pod the demo saw: when it appeared, when it became Ready, its resident memory (the agent's figure).</summary>
public sealed record PodTiming(string Name, string Track, string Revision, DateTimeOffset Created, TimeSpan? StartToReady, long MaxResidentBytes);

/// <summary>Everything the view shows at one moment.</summary>
public sealed record StoryState(
    string Chapter, TimeSpan Elapsed, ModelSnapshot? Model, IReadOnlyList<TrackLoad> Load, IReadOnlyList<PodTiming> Pods);

/// <summary>Where the story reports to: a live Spectre.Console view on a terminal, plain lines otherwise (CI, pipes, the test).</summary>
public interface IStoryView
{
    /// <summary>A new part of the story begins (e.g. "v2: canary").</summary>
    void Chapter(string title);

    /// <summary>Something happened (a model published, a spec changed, an outcome).</summary>
    void Note(string line);

    /// <summary>A new analysis run was recorded in status.</summary>
    void Run(AnalysisRun run);

    /// <summary>The latest state (called about twice a second).</summary>
    void Update(StoryState state);

    /// <summary>The story ended: what happened, with the figures.</summary>
    void Summary(DemoReport report);

    /// <summary>Runs <paramref name="story"/> with this view shown.</summary>
    Task RunAsync(Func<Task> story);
}
