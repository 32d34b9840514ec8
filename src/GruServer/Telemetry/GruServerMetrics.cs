using System.Diagnostics;
using System.Diagnostics.Metrics;
using GruServer.Faults;
using GruServer.Hosting;
using GruServer.Inference;
using GruServing.Contract.Serving;

namespace GruServer.Telemetry;

/// <summary>The server's metrics. Names are chosen so the Prometheus exporter, which appends the unit
/// (<c>_seconds</c>) and <c>_total</c> for counters, emits exactly the names in docs/API.md.</summary>
internal sealed class GruServerMetrics
{
    public const string MeterName = "GruServer";

    /// <summary>Queue waits: 0.1 ms to 10 s, coarse (nothing is judged on them).</summary>
    private static readonly double[] QueueWaitBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>GRU outputs live in (-1, 1); a dense head may leave that range, hence the wide tails.</summary>
    private static readonly double[] OutputMeanBuckets =
        [-10, -5, -2, -1, -0.75, -0.5, -0.25, -0.1, 0, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10];

    /// <summary>Sequences per model run, powers of two up to the largest configurable batch.</summary>
    private static readonly int[] BatchSizeBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

    /// <summary>200 and every code an infer error maps to (429 for full sessions included), from the one mapping.</summary>
    private static readonly string[] PreCreatedCodes =
        [.. Enum.GetValues<Inference.InferenceErrorKind>().Select(Protocol.V2Endpoints.StatusCodeFor).Prepend(200).Distinct().Order()
            .Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    private readonly Histogram<double> _duration;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _schemaErrors;
    private readonly Histogram<double> _outputMean;
    private readonly UpDownCounter<long> _inFlight;
    private readonly Histogram<int> _batchSize;
    private readonly UpDownCounter<long> _queueDepth;
    private readonly Counter<long> _fetchFailures;
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<double> _runDuration;
    private readonly KeyValuePair<string, object?>[] _common;
    private readonly Meter _meter;

    public GruServerMetrics(IMeterFactory meterFactory, ServedModel model, FaultInjection faults, GruServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meterFactory);
        _common =
        [
            new("model", model.Name),
            new("revision", model.Revision),
            new("track", model.Track),
        ];
        var meter = _meter = meterFactory.Create(MeterName);
        _duration = meter.CreateHistogram<double>("gru_request_duration", "s", "Duration of infer requests, from arrival to response.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets.With(options.LatencySloBoundaries) });
        _requests = meter.CreateCounter<long>("gru_requests", description: "Infer requests by HTTP status code.");
        _schemaErrors = meter.CreateCounter<long>("gru_input_schema_errors", description: "Infer requests rejected by input validation, by reason.");
        _outputMean = meter.CreateHistogram<double>("gru_output_mean", description: "Mean value of each response's primary output (prediction drift).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = OutputMeanBuckets });

        _inFlight = meter.CreateUpDownCounter<long>("gru_requests_in_flight", description: "Infer requests being handled right now.");
        _inFlight.Add(0, _common);
        _batchSize = meter.CreateHistogram<int>("gru_batch_size", description: "Sequences in each model run the dynamic batcher makes.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchSizeBuckets });
        _queueDepth = meter.CreateUpDownCounter<long>("gru_queue_depth", description: "Infer requests waiting in the dynamic batcher's queue.");
        _queueDepth.Add(0, _common);
        _queueWait = meter.CreateHistogram<double>("gru_queue_wait", "s", "Time infer requests wait in the queue before their batch runs.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = QueueWaitBuckets });
        // A request's time is queue wait + this run + protocol work; this one says what the model itself costs (Triton's compute_infer).
        _runDuration = meter.CreateHistogram<double>("gru_model_run_duration", "s", "Duration of each ONNX Runtime run the dynamic batcher makes (one per batch).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets.Standard });
        _fetchFailures = meter.CreateCounter<long>("gru_model_fetch_failures", description: "Failed attempts to fetch an oci:// model from its registry (each retried with backoff).");
        _fetchFailures.Add(0, _common);
        meter.CreateObservableGauge("gru_model_info", () => ObserveModelInfo(model),
            description: "1 for the model being served, labelled with its sha256 digest and execution provider.");
        meter.CreateObservableGauge("gru_model_ready", () => new Measurement<int>(model.IsReady ? 1 : 0, _common),
            description: "1 when the model is loaded, verified, warmed up and serving.");
        meter.CreateObservableGauge("gru_model_digest_mismatch", () => new Measurement<int>(model.State.Status == ModelStatus.DigestMismatch ? 1 : 0, _common),
            description: "1 when the model file's sha256 differs from --model-sha256; the model is then never served.");
        meter.CreateObservableGauge("gru_fault_injection_active", () => ObserveFaults(faults),
            description: "1 while a fault injection option (latency, error) is on.");

        // Pre-create the series so dashboards and rate() see zeros before the first request.
        foreach (var code in PreCreatedCodes)
        {
            foreach (var source in new[] { ShadowTraffic.LiveSource, ShadowTraffic.MirrorSource })
            {
                _requests.Add(0, WithCommon("code", code, "source", source));
            }
        }

        foreach (var reason in SchemaErrorReasons.All)
        {
            _schemaErrors.Add(0, WithCommon("reason", reason));
        }
    }

    /// <summary>Publishes <c>gru_sessions_active</c> from the store (zero on a Stateless server, so the series always exists).</summary>
    public void ObserveSessions(Sequences.SequenceStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _meter.CreateObservableGauge("gru_sessions_active", () => new Measurement<int>(store.Active, _common),
            description: "Live Stateful sequences whose hidden state this server keeps.");
        _meter.CreateObservableGauge("gru_sequences_draining", () => new Measurement<int>(store.Draining ? 1 : 0, _common),
            description: "1 once the server is shutting down: it takes no new sequence and hands each live one's state to its client.");
        _meter.CreateObservableCounter("gru_sequence_handoffs", () => new Measurement<long>(store.Handoffs, _common),
            description: "Answers that handed their sequence's state to the client because the server is shutting down (sequence_handoff).");
    }

    public void RequestStarted() => _inFlight.Add(1, _common);

    /// <summary>Counts an answered infer request; <paramref name="source"/> tells a client's request (live) from a copy a
    /// stable server mirrored here (<see cref="ShadowTraffic"/>), so a canary in its shadow step shows its live count.</summary>
    public void RecordRequest(int statusCode, TimeSpan duration, string source = ShadowTraffic.LiveSource)
    {
        _requests.Add(1, WithCommon("code", statusCode.ToString(System.Globalization.CultureInfo.InvariantCulture), "source", source));
        _duration.Record(duration.TotalSeconds, WithCommon("source", source));
        _inFlight.Add(-1, _common);
    }

    public void RecordModelFetchFailure() => _fetchFailures.Add(1, _common);

    public void RecordSchemaError(string reason) => _schemaErrors.Add(1, WithCommon("reason", reason));

    public void RecordOutputMean(double mean) => _outputMean.Record(mean, _common);

    public void RecordBatchSize(int sequences) => _batchSize.Record(sequences, _common);

    public void QueueDepthChanged(int delta) => _queueDepth.Add(delta, _common);

    public void RecordQueueWait(TimeSpan wait) => _queueWait.Record(wait.TotalSeconds, _common);

    public void RecordModelRun(TimeSpan duration) => _runDuration.Record(duration.TotalSeconds, _common);

    private IEnumerable<Measurement<int>> ObserveModelInfo(ServedModel model)
    {
        var state = model.State;
        if (state.Status == ModelStatus.Ready && state.Digest is not null)
        {
            yield return new Measurement<int>(1, WithCommon("digest", "sha256:" + state.Digest, "execution_provider", state.ExecutionProvider ?? ""));
        }
    }

    private IEnumerable<Measurement<int>> ObserveFaults(FaultInjection faults)
    {
        yield return new Measurement<int>(faults.LatencyActive ? 1 : 0, WithCommon("kind", "latency"));
        yield return new Measurement<int>(faults.ErrorsActive ? 1 : 0, WithCommon("kind", "error"));
    }

    private TagList WithCommon(string key, object? value)
    {
        var tags = new TagList(_common);
        tags.Add(key, value);
        return tags;
    }

    private TagList WithCommon(string key1, object? value1, string key2, object? value2)
    {
        var tags = WithCommon(key1, value1);
        tags.Add(key2, value2);
        return tags;
    }
}
