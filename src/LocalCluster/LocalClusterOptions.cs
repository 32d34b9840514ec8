namespace Kube.Local;

/// <summary>How a <see cref="LocalCluster"/> is started.</summary>
public sealed record LocalClusterOptions
{
    /// <summary>Serve HTTPS with a generated CA (true) or plain HTTP.</summary>
    public bool UseHttps { get; init; } = true;

    /// <summary>Port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>Run the deployment controller (Deployment → ReplicaSet → Pods, statuses from Pods).</summary>
    public bool DeploymentController { get; init; }

    /// <summary>Mark every new Pod Running and Ready right away (there is no kubelet).</summary>
    public bool AutoReadyPods { get; init; }

    /// <summary>How many change events watches can resume from; older resourceVersions get 410 Expired.</summary>
    public int WatchHistorySize { get; init; } = 10_000;

    /// <summary>How often a quiet watch with allowWatchBookmarks receives a BOOKMARK.</summary>
    public TimeSpan BookmarkInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Clock for timestamps; tests may pass a fake one.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    internal void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(Port), Port, "Port must be between 0 and 65535");
        if (WatchHistorySize < 1) throw new ArgumentOutOfRangeException(nameof(WatchHistorySize), WatchHistorySize, "WatchHistorySize must be at least 1");
        if (BookmarkInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(BookmarkInterval), BookmarkInterval, "BookmarkInterval must be positive");
    }
}
