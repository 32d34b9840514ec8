using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Threading.Channels;
using GruServer.Inference;
using GruServer.Sequences;
using GruServing.Contract.Serving;
using Microsoft.Extensions.Logging;

namespace GruServer.Mirroring;

/// <summary>A sampled request to copy: the original body and how it was sent, and (once stable has answered) its outputs.</summary>
internal sealed record MirrorCopy(byte[] Body, string? ContentType, string? HeaderLength, string PathAndQuery, string RequestId, SequenceControl? Sequence, int Lane)
{
    /// <summary>Stable's outputs for this request, set when the client has been answered.</summary>
    public IReadOnlyList<NamedTensor> StableOutputs { get; init; } = [];
}

/// <summary>Copies sampled infer requests to the canary after stable has answered them, compares the answers and
/// records how far apart they are. Copies go through bounded lanes (one per allowed concurrent copy); a copy that
/// finds its lane full is dropped and counted, so mirroring never holds a client's request or grows memory.
/// A Stateful sequence always uses one lane, so its requests reach the canary in order.</summary>
internal sealed partial class CanaryMirror : IAsyncDisposable
{
    /// <summary>Copies waiting per lane: enough to absorb a burst, small enough that a slow canary costs little memory.</summary>
    private const int LaneCapacity = 16;

    /// <summary>Sequences remembered as broken; a bound on memory if clients never end them (their copies then stop anyway).</summary>
    private const int MaxBrokenSequences = 10_000;

    private readonly MirrorSettings _settings;
    private readonly MirrorMetrics _metrics;
    private readonly MirrorRateBudget _rate;
    private readonly Random _random;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly Channel<MirrorCopy>[] _lanes;
    private readonly Task[] _workers;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, byte> _broken = new(StringComparer.Ordinal);
    private readonly Lock _worstLock = new();
    private double _worstAbs = -1;
    private int _nextLane;

    public CanaryMirror(MirrorSettings settings, MirrorMetrics metrics, TimeProvider time, Random random, ILogger<CanaryMirror> logger, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        _metrics = metrics;
        _random = random;
        _logger = logger;
        _rate = new MirrorRateBudget(settings.MaxRate, time);
        // A Service name resolves to a ClusterIP that can change when the canary is recreated: recycle connections.
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            MaxConnectionsPerServer = settings.MaxConcurrency,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            ConnectTimeout = TimeSpan.FromSeconds(2),
        })
        {
            BaseAddress = settings.Target,
            Timeout = TimeSpan.FromSeconds(10),
        };
        _lanes = [.. Enumerable.Range(0, settings.MaxConcurrency).Select(_ => Channel.CreateBounded<MirrorCopy>(
            new BoundedChannelOptions(LaneCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait }))];
        _workers = [.. _lanes.Select(lane => Task.Run(() => DrainAsync(lane.Reader)))];
        Log.Mirroring(_logger, settings.Target, settings.Sample, settings.MaxConcurrency, settings.MaxRate);
    }

    /// <summary>Decides whether a request is copied and, if so, copies its body (the caller's buffer goes back to the
    /// pool). Called once the request is parsed; nothing is sent until <see cref="Send"/>.</summary>
    public MirrorCopy? Sample(InferenceRequest request, ReadOnlySpan<byte> body, string? contentType, string? headerLength, string pathAndQuery, string requestId)
    {
        ArgumentNullException.ThrowIfNull(request);
        int lane;
        if (request.Sequence is { } sequence)
        {
            if (!MirrorSampler.IncludesSequence(sequence.Id, _settings.Sample))
            {
                return null;
            }

            if (sequence.State is not null)
            {
                // A state stable handed its client means nothing to another model: the canary would refuse it.
                _metrics.RecordDrop("client_state");
                return null;
            }

            if (sequence.Start)
            {
                _broken.TryRemove(sequence.Id, out _);
                if (!_rate.TryTake())
                {
                    _metrics.RecordDrop("rate");
                    MarkBroken(sequence);
                    return null;
                }
            }
            else if (_broken.ContainsKey(sequence.Id))
            {
                _metrics.RecordDrop("sequence_broken");
                if (sequence.End)
                {
                    _broken.TryRemove(sequence.Id, out _);
                }

                return null;
            }

            lane = MirrorSampler.LaneOf(sequence.Id, _lanes.Length);
        }
        else
        {
            if (!MirrorSampler.IncludesRequest(_random.NextDouble(), _settings.Sample))
            {
                return null;
            }

            if (!_rate.TryTake())
            {
                _metrics.RecordDrop("rate");
                return null;
            }

            lane = (int)((uint)Interlocked.Increment(ref _nextLane) % (uint)_lanes.Length);
        }

        return new MirrorCopy(body.ToArray(), contentType, headerLength, pathAndQuery, requestId, request.Sequence, lane);
    }

    /// <summary>Queues a copy once stable has answered it; never waits.</summary>
    public void Send(MirrorCopy copy, IReadOnlyList<NamedTensor> stableOutputs)
    {
        ArgumentNullException.ThrowIfNull(copy);
        if (!_lanes[copy.Lane].Writer.TryWrite(copy with { StableOutputs = stableOutputs }))
        {
            _metrics.RecordDrop("queue_full");
            MarkBroken(copy.Sequence);
        }
    }

    private void MarkBroken(SequenceControl? sequence)
    {
        if (sequence is null || sequence.End)
        {
            return;
        }

        if (_broken.Count >= MaxBrokenSequences)
        {
            _broken.Clear();
        }

        _broken[sequence.Id] = 0;
    }

    private async Task DrainAsync(ChannelReader<MirrorCopy> lane)
    {
        try
        {
            await foreach (var copy in lane.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                await CompareAsync(copy).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Shutting down: copies still queued are dropped with the process.
        }
    }

    private async Task CompareAsync(MirrorCopy copy)
    {
        byte[] body;
        string? headerLength;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, copy.PathAndQuery.TrimStart('/'));
            var content = new ByteArrayContent(copy.Body);
            if (copy.ContentType is not null && MediaTypeHeaderValue.TryParse(copy.ContentType, out var media))
            {
                content.Headers.ContentType = media;
            }

            request.Content = content;
            if (copy.HeaderLength is not null)
            {
                request.Headers.TryAddWithoutValidation(Protocol.V2RequestReader.HeaderLengthName, copy.HeaderLength);
            }

            request.Headers.TryAddWithoutValidation(ShadowTraffic.Header, ShadowTraffic.HeaderValue);
            using var response = await _http.SendAsync(request, _stop.Token).ConfigureAwait(false);
            if (response.StatusCode != System.Net.HttpStatusCode.OK)
            {
                _metrics.RecordError("status");
                Log.CanaryRefused(_logger, copy.RequestId, (int)response.StatusCode);
                MarkBroken(copy.Sequence);
                return;
            }

            body = await response.Content.ReadAsByteArrayAsync(_stop.Token).ConfigureAwait(false);
            headerLength = response.Headers.TryGetValues(Protocol.V2RequestReader.HeaderLengthName, out var values) ? values.FirstOrDefault() : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !_stop.IsCancellationRequested)
        {
            _metrics.RecordError("transport");
            Log.CanaryUnreachable(_logger, copy.RequestId, e.Message);
            MarkBroken(copy.Sequence);
            return;
        }

        IReadOnlyList<ComparedTensor> canary;
        try
        {
            canary = InferResponseReader.Read(body, headerLength is null ? null
                : int.TryParse(headerLength, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : -1);
        }
        catch (FormatException e)
        {
            _metrics.RecordError("response");
            Log.Unreadable(_logger, copy.RequestId, e.Message);
            return;
        }

        if (OutputDivergence.Compare(copy.StableOutputs, canary, out var problem) is not { } differences)
        {
            _metrics.RecordError("shape");
            Log.Unreadable(_logger, copy.RequestId, problem ?? "outputs differ in shape");
            return;
        }

        foreach (var difference in differences)
        {
            _metrics.RecordComparison(difference);
            NoteWorst(copy.RequestId, difference);
        }
    }

    /// <summary>Logs each new largest difference with its request id, so the example behind a bad histogram can be found.</summary>
    private void NoteWorst(string requestId, OutputDifference difference)
    {
        lock (_worstLock)
        {
            if (!(difference.MaxAbs > _worstAbs))
            {
                return;
            }

            _worstAbs = difference.MaxAbs;
        }

        Log.NewWorst(_logger, requestId, difference.Output, difference.MaxAbs, difference.MaxRel, difference.ArgMaxAgrees?.ToString() ?? "n/a");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lane in _lanes)
        {
            lane.Writer.TryComplete();
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_workers).ConfigureAwait(false);
        _http.Dispose();
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(400, LogLevel.Information, "Mirroring to {Target}: sample {Sample}, at most {Concurrency} in flight and {Rate}/s")]
        public static partial void Mirroring(ILogger logger, Uri target, double sample, int concurrency, double rate);

        [LoggerMessage(401, LogLevel.Warning, "Largest divergence so far: request {RequestId}, output {Output}: max abs {MaxAbs}, max rel {MaxRel}, arg-max agrees {ArgMax}")]
        public static partial void NewWorst(ILogger logger, string requestId, string output, double maxAbs, double maxRel, string argMax);

        [LoggerMessage(402, LogLevel.Debug, "Mirrored request {RequestId}: the canary answered {Status}")]
        public static partial void CanaryRefused(ILogger logger, string requestId, int status);

        [LoggerMessage(403, LogLevel.Debug, "Mirrored request {RequestId}: the canary could not be reached: {Reason}")]
        public static partial void CanaryUnreachable(ILogger logger, string requestId, string reason);

        [LoggerMessage(404, LogLevel.Debug, "Mirrored request {RequestId}: the answers could not be compared: {Reason}")]
        public static partial void Unreadable(ILogger logger, string requestId, string reason);
    }
}
