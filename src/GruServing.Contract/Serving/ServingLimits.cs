namespace GruServing.Contract.Serving;

/// <summary>Defaults and bounds both the CRD and GruServer apply, so a GruModel that omits a field gets what a
/// GruServer started by hand gets, and every value the CRD accepts is one the server accepts.</summary>
/// <remarks>
/// Two batch sizes, two meanings: <see cref="MaxRequestBatchSize"/> bounds what one request may carry (a request
/// above it is refused with 400); <see cref="MaxBatchSize"/> is how many sequences the dynamic batcher may
/// gather from concurrent requests into one model run. A request larger than the batcher's maximum is still
/// valid up to the per-request limit: it simply runs as its own batch.
/// </remarks>
public static class ServingLimits
{
    /// <summary>Default per-request limit on the time axis.</summary>
    public const int MaxSequenceLength = 4096;

    /// <summary>Largest per-request time-axis limit one may configure.</summary>
    public const int MaxSequenceLengthUpperBound = 1_048_576;

    /// <summary>Default per-request limit on the batch axis.</summary>
    public const int MaxRequestBatchSize = 64;

    /// <summary>Largest per-request batch limit one may configure.</summary>
    public const int MaxRequestBatchSizeUpperBound = 1_048_576;

    /// <summary>Default maximum batch the dynamic batcher forms from concurrent requests.</summary>
    public const int MaxBatchSize = 32;

    /// <summary>Largest batcher maximum one may configure.</summary>
    public const int MaxBatchSizeUpperBound = 4096;

    /// <summary>Default longest wait of a queued request for its batch to fill (a <see cref="Durations.GoDuration"/>).</summary>
    public const string MaxQueueDelay = "2ms";

    /// <summary>Default bound on requests waiting in the batcher's queue: eight full batches of single-sequence requests.</summary>
    public const int MaxQueueSize = 256;

    /// <summary>Longest <see cref="MaxQueueDelay"/> one may configure: beyond it a "batch" is a backlog.</summary>
    public static readonly TimeSpan MaxQueueDelayUpperBound = TimeSpan.FromSeconds(10);

    /// <summary>Largest queue bound one may configure.</summary>
    public const int MaxQueueSizeUpperBound = 1_048_576;

    /// <summary>Default idle time after which a Stateful sequence's state is dropped (a <see cref="Durations.GoDuration"/>).</summary>
    public const string SessionIdleTimeout = "5m";

    /// <summary>Longest <see cref="SessionIdleTimeout"/> one may configure.</summary>
    public static readonly TimeSpan SessionIdleTimeoutUpperBound = TimeSpan.FromDays(7);

    /// <summary>Default longest a terminating server keeps serving its live Stateful sequences before it stops and their
    /// clients continue elsewhere from the state its answers handed them (a <see cref="Durations.GoDuration"/>).</summary>
    public const string SequenceDrainTimeout = "30s";

    /// <summary>Longest <see cref="SequenceDrainTimeout"/> one may configure: the pod's termination grace period grows with it.</summary>
    public static readonly TimeSpan SequenceDrainTimeoutUpperBound = TimeSpan.FromMinutes(30);

    /// <summary>Default bound on live Stateful sequences per server.</summary>
    public const int MaxSessions = 10000;

    /// <summary>Largest session bound one may configure.</summary>
    public const int MaxSessionsUpperBound = 10_000_000;
}
