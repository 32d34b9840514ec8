namespace GruServing.Contract.Serving;

/// <summary>GruServer's command-line flags: the operator writes its container args with these names and GruServer
/// parses them, so a rename on one side fails to compile on the other.</summary>
public static class ServerFlags
{
    /// <summary>Path of the ONNX model file.</summary>
    public const string Model = "--model";

    /// <summary>Name on /v2/models/{name}.</summary>
    public const string ModelName = "--model-name";

    /// <summary>The pinned <see cref="Models.ModelDigest"/>.</summary>
    public const string ModelSha256 = "--model-sha256";

    /// <summary>Directory where models pulled from an OCI registry are cached by layer digest.</summary>
    public const string ModelCacheDir = "--model-cache-dir";

    /// <summary>Username for the model's registry (basic auth or the bearer-token exchange).</summary>
    public const string RegistryUsername = "--registry-username";

    /// <summary>Password or token for <see cref="RegistryUsername"/>.</summary>
    public const string RegistryPassword = "--registry-password";

    /// <summary>The registry (host[:port]) <see cref="RegistryUsername"/> and <see cref="RegistryPassword"/> are for; required with them.</summary>
    public const string RegistryHost = "--registry-host";

    /// <summary>Path of a Docker config.json (a dockerconfigjson Secret) with registry credentials.</summary>
    public const string RegistryConfig = "--registry-config";

    /// <summary>PEM file of CA certificates for a registry with a private CA.</summary>
    public const string RegistryCaFile = "--registry-ca-file";

    /// <summary>Registries (host[:port], comma-separated) reached over plain http.</summary>
    public const string RegistryPlainHttp = "--registry-plain-http";

    /// <summary>Listen address of the inference endpoint.</summary>
    public const string Host = "--host";

    /// <summary>Port of the inference endpoint.</summary>
    public const string Port = "--port";

    /// <summary>Port of the Open Inference Protocol's gRPC endpoint (HTTP/2 without TLS).</summary>
    public const string GrpcPort = "--grpc-port";

    /// <summary>Port of /metrics.</summary>
    public const string MetricsPort = "--metrics-port";

    /// <summary>Revision label.</summary>
    public const string Revision = "--revision";

    /// <summary>Track label (<see cref="Tracks"/>).</summary>
    public const string Track = "--track";

    /// <summary>The <see cref="Serving.ExecutionProvider"/>.</summary>
    public const string ExecutionProvider = "--execution-provider";

    /// <summary>Per-request limit on the time axis (<see cref="ServingLimits.MaxSequenceLength"/>).</summary>
    public const string MaxSequenceLength = "--max-sequence-length";

    /// <summary>Per-request limit on the batch axis (<see cref="ServingLimits.MaxRequestBatchSize"/>); not the batcher's
    /// maximum, which is a separate setting of the dynamic batcher.</summary>
    public const string MaxRequestBatchSize = "--max-request-batch-size";

    /// <summary>The dynamic batcher's largest batch, in sequences (<see cref="ServingLimits.MaxBatchSize"/>).</summary>
    public const string MaxBatchSize = "--max-batch-size";

    /// <summary>Longest wait of a queued request for its batch to fill (a <see cref="Durations.GoDuration"/>; 0 batches only what is queued).</summary>
    public const string MaxQueueDelay = "--max-queue-delay";

    /// <summary>Most requests waiting in the batcher's queue (<see cref="ServingLimits.MaxQueueSize"/>); beyond it, 503 with Retry-After.</summary>
    public const string MaxQueueSize = "--max-queue-size";

    /// <summary>The <see cref="SessionMode"/>: Stateful keeps each sequence's hidden state between requests.</summary>
    public const string SessionsMode = "--sessions-mode";

    /// <summary>A Stateful sequence idle this long is dropped (a <see cref="Durations.GoDuration"/>).</summary>
    public const string SessionsIdleTimeout = "--sessions-idle-timeout";

    /// <summary>Most live Stateful sequences (<see cref="ServingLimits.MaxSessions"/>); beyond it a new sequence is refused.</summary>
    public const string MaxSessions = "--max-sessions";

    /// <summary>Batch and time axes of tensors the model does not describe (name=axes, one letter per dimension: b, t, other), e.g. <c>X=tbf</c>.</summary>
    public const string TensorAxes = "--tensor-axes";

    /// <summary>ONNX Runtime intra-op threads (0: one per core, ONNX Runtime's default).</summary>
    public const string IntraOpThreads = "--intra-op-threads";

    /// <summary>Largest request body in bytes.</summary>
    public const string MaxRequestBytes = "--max-request-bytes";

    /// <summary>Most request-body bytes admitted at once across all requests; beyond it a request gets 503.</summary>
    public const string MaxRequestBytesInFlight = "--max-request-bytes-in-flight";

    /// <summary>Longest a request body may take to arrive; a slower one has its connection closed.</summary>
    public const string RequestBodyTimeout = "--request-body-timeout";

    /// <summary>Most open client connections (Kestrel's MaxConcurrentConnections).</summary>
    public const string MaxConnections = "--max-connections";

    /// <summary>SLO latency thresholds added to the latency histogram's bounds (<see cref="LatencyBuckets"/>): comma-separated durations.</summary>
    public const string LatencySloBoundaries = "--latency-slo-boundaries";

    /// <summary>Fault injection: added latency (a <see cref="Durations.GoDuration"/>).</summary>
    public const string FaultLatency = "--fault-latency";

    /// <summary>Fault injection: fraction of requests answered 500.</summary>
    public const string FaultErrorRate = "--fault-error-rate";

    /// <summary>Shadow traffic: base URL (http://host:port) of the canary that sampled infer requests are copied to after
    /// they are answered (<see cref="ShadowTraffic"/>); off unless given.</summary>
    public const string MirrorUrl = "--mirror-url";

    /// <summary>Fraction (0..1] of infer requests (of sequences, for Stateful ones) copied to <see cref="MirrorUrl"/>.</summary>
    public const string MirrorSample = "--mirror-sample";

    /// <summary>Most mirrored requests in flight to <see cref="MirrorUrl"/> at once.</summary>
    public const string MirrorMaxConcurrency = "--mirror-max-concurrency";

    /// <summary>Most mirrored requests (or new mirrored sequences) started per second; beyond it they are dropped and counted.</summary>
    public const string MirrorMaxRate = "--mirror-max-rate";

    /// <summary>On SIGTERM, serve not-ready this long first (a <see cref="Durations.GoDuration"/>).</summary>
    public const string ShutdownDelay = "--shutdown-delay";

    /// <summary>On SIGTERM, keep serving live Stateful sequences (refusing new ones) until they end or idle out, at most
    /// this long (a <see cref="Durations.GoDuration"/>; <see cref="ServingLimits.SequenceDrainTimeout"/>).</summary>
    public const string SequenceDrainTimeout = "--sequence-drain-timeout";

    /// <summary>On SIGTERM, wait this long for in-flight requests (a <see cref="Durations.GoDuration"/>).</summary>
    public const string ShutdownTimeout = "--shutdown-timeout";
}
