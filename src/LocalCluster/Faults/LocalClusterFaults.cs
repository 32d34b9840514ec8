using Kube.Local.Api;
using Kube.Local.Storage;

namespace Kube.Local;

/// <summary>Fault injection for tests: drop watches, fail the next requests, add latency, expire watch history.</summary>
public sealed class LocalClusterFaults
{
    private readonly ObjectStore _store;
    private readonly object _gate = new();
    private readonly Queue<int> _failures = new();
    private long _latencyTicks;

    internal LocalClusterFaults(ObjectStore store) => _store = store;

    /// <summary>Delay added before every API request is served (zero by default).</summary>
    public TimeSpan Latency
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));
        set
        {
            if (value < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(value), "Latency must not be negative");
            Interlocked.Exchange(ref _latencyTicks, value.Ticks);
        }
    }

    /// <summary>Ends every open watch stream now; clients see a normal end of stream and must re-watch. Returns how many were open.</summary>
    public int DropAllWatches() => _store.DropAllWatches();

    /// <summary>Answers the next <paramref name="count"/> API requests with <paramref name="statusCode"/> (e.g. 500, 429, 409) as a metav1.Status.</summary>
    public void FailNext(int count, int statusCode)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), "count must not be negative");
        if (statusCode is < 400 or > 599) throw new ArgumentOutOfRangeException(nameof(statusCode), "statusCode must be an HTTP error code (400-599)");
        lock (_gate)
        {
            for (var i = 0; i < count; i++) _failures.Enqueue(statusCode);
        }
    }

    /// <summary>Drops all watch history, as an etcd compaction: a watch or continue from any resourceVersion handed out before this call gets 410 Expired.</summary>
    public void ExpireHistory() => _store.ExpireHistory();

    /// <summary>How many injected failures are still pending.</summary>
    public int PendingFailures
    {
        get { lock (_gate) return _failures.Count; }
    }

    internal async Task BeforeRequestAsync(CancellationToken ct)
    {
        var latency = Latency;
        if (latency > TimeSpan.Zero) await Task.Delay(latency, ct);
        int? code = null;
        lock (_gate)
        {
            if (_failures.Count > 0) code = _failures.Dequeue();
        }
        if (code is { } c) throw ApiError.ForCode(c, $"injected fault: this request was answered with {c} by LocalCluster fault injection");
    }
}
