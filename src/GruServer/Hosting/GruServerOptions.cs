using System.Globalization;
using System.Net;
using GruRegistry.References;
using GruServer.Axes;
using GruServer.Registry;
using GruServing.Contract.Durations;
using GruServing.Contract.Models;
using GruServing.Contract.Serving;
using Microsoft.Extensions.Configuration;

namespace GruServer.Hosting;

/// <summary>The server's configuration after parsing and validation.</summary>
internal sealed record GruServerOptions
{
    public required string ModelPath { get; init; }
    public required string ModelName { get; init; }

    /// <summary>Where to pull the model from when --model is an oci:// reference (then <see cref="ModelPath"/> is
    /// the cache file it is pulled to); null for a local file.</summary>
    public OciModelSource? OciSource { get; init; }

    /// <summary>The pinned digest, or null when none is pinned.</summary>
    public ModelDigest? ExpectedDigest { get; init; }

    public string Host { get; init; } = "0.0.0.0";
    public int Port { get; init; } = ServerPorts.Http;
    public int MetricsPort { get; init; } = ServerPorts.Metrics;
    /// <summary>0: no gRPC endpoint.</summary>
    public int GrpcPort { get; init; }
    public string Revision { get; init; } = "0";
    public string Track { get; init; } = Tracks.StableLabel;
    public ExecutionProvider ExecutionProvider { get; init; } = ExecutionProvider.Auto;
    public int MaxSequenceLength { get; init; } = ServingLimits.MaxSequenceLength;
    public int MaxRequestBatchSize { get; init; } = ServingLimits.MaxRequestBatchSize;
    public int MaxBatchSize { get; init; } = ServingLimits.MaxBatchSize;
    public TimeSpan MaxQueueDelay { get; init; } = TimeSpan.FromMilliseconds(2);
    public int MaxQueueSize { get; init; } = ServingLimits.MaxQueueSize;
    public long MaxRequestBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Request-body bytes admitted at once across requests (<see cref="Protocol.RequestBodyAdmission"/>).</summary>
    public long MaxRequestBytesInFlight { get; init; } = 128L * 1024 * 1024;

    /// <summary>Longest a request body may take to arrive.</summary>
    public TimeSpan RequestBodyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Most open client connections.</summary>
    public int MaxConnections { get; init; } = 1024;
    public TensorAxesOverride TensorAxes { get; init; } = TensorAxesOverride.None;
    public int IntraOpThreads { get; init; }

    /// <summary>Stateful sequences: mode, idle timeout and bound (<see cref="Sequences.SequenceStore"/>).</summary>
    public Sequences.SessionSettings Sessions { get; init; } = new(SessionMode.Stateless, TimeSpan.FromMinutes(5), ServingLimits.MaxSessions);
    public TimeSpan FaultLatency { get; init; }

    /// <summary>SLO latency thresholds the operator asks to be exact bounds of the latency histogram.</summary>
    public IReadOnlyList<TimeSpan> LatencySloBoundaries { get; init; } = [];
    public double FaultErrorRate { get; init; }
    public TimeSpan ShutdownDelay { get; init; }
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>On SIGTERM, longest wait for live Stateful sequences to end or idle out (<see cref="SignalLifetime"/>).</summary>
    public TimeSpan SequenceDrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Shadow traffic toward a canary, or null when --mirror-url is not given.</summary>
    public Mirroring.MirrorSettings? Mirror { get; init; }

    /// <summary>Reads every setting from configuration keys named like the GRU_* variables without the prefix.
    /// Returns the options, or the list of problems, each naming the flag, the variable and the fix.</summary>
    public static (GruServerOptions? Options, IReadOnlyList<string> Errors) Parse(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var errors = new List<string>();
        string? Raw(ServerSetting s)
        {
            var value = configuration[s.Key];
            return string.IsNullOrWhiteSpace(value) ? s.Default : value.Trim();
        }

        var modelPath = Raw(ServerSettings.Model);
        if (modelPath is null)
        {
            errors.Add($"{ServerSettings.Model.DisplayName} is required: give the path of the ONNX model to serve.");
        }

        OciModelSource? oci = null;
        if (modelPath is not null && modelPath.StartsWith(OciReference.Scheme, StringComparison.OrdinalIgnoreCase))
        {
            oci = OciModelSource.Parse(modelPath, Raw, errors);
        }

        var modelName = Raw(ServerSettings.ModelName)
            ?? (oci is not null ? oci.Reference.Repository.Split('/')[^1] : modelPath is null ? "" : Path.GetFileNameWithoutExtension(modelPath));
        if (modelPath is not null && !IsUrlSegment(modelName))
        {
            errors.Add($"{ServerSettings.ModelName.DisplayName}: '{modelName}' must be 1-128 letters, digits, '.', '_' or '-' (it is a URL segment).");
        }

        ModelDigest? digest = null;
        if (Raw(ServerSettings.ModelSha256) is { } shaText)
        {
            digest = ModelDigest.TryParse(shaText);
            if (digest is null)
            {
                errors.Add($"{ServerSettings.ModelSha256.DisplayName}: '{shaText}' is not a sha256 digest; give {ModelDigest.Expected}.");
            }
        }

        var host = Raw(ServerSettings.Host)!;
        if (host != "localhost" && !IPAddress.TryParse(host, out _))
        {
            errors.Add($"{ServerSettings.Host.DisplayName}: '{host}' is not an IP address; use e.g. 0.0.0.0, 127.0.0.1 or localhost.");
        }

        var port = ParseInt(ServerSettings.Port, 1, 65535, Raw, errors);
        var metricsPort = ParseInt(ServerSettings.MetricsPort, 1, 65535, Raw, errors);
        var grpcPort = Raw(ServerSettings.GrpcPort) is null ? 0 : ParseInt(ServerSettings.GrpcPort, 1, 65535, Raw, errors);
        if (grpcPort > 0 && (grpcPort == port || grpcPort == metricsPort))
        {
            errors.Add($"{ServerSettings.GrpcPort.DisplayName} must differ from {ServerSettings.Port.DisplayName} and {ServerSettings.MetricsPort.DisplayName} (it is {grpcPort}).");
        }
        if (port == metricsPort && port > 0)
        {
            errors.Add($"{ServerSettings.MetricsPort.DisplayName} must differ from {ServerSettings.Port.DisplayName} (both are {port}).");
        }

        var revision = Raw(ServerSettings.Revision)!;
        var track = Raw(ServerSettings.Track)!;
        if (!Tracks.TryParse(track, out _))
        {
            errors.Add($"{ServerSettings.Track.DisplayName}: '{track}' must be {Tracks.Choices}.");
        }

        var providerText = Raw(ServerSettings.ExecutionProvider)!;
        if (!ExecutionProviders.TryParse(providerText, out var provider))
        {
            errors.Add($"{ServerSettings.ExecutionProvider.DisplayName}: '{providerText}' must be {ExecutionProviders.Choices} (spelled so).");
        }

        var maxSequence = ParseInt(ServerSettings.MaxSequenceLength, 1, ServingLimits.MaxSequenceLengthUpperBound, Raw, errors);
        var maxRequestBatch = ParseInt(ServerSettings.MaxRequestBatchSize, 1, ServingLimits.MaxRequestBatchSizeUpperBound, Raw, errors);
        var maxBatch = ParseInt(ServerSettings.MaxBatchSize, 1, ServingLimits.MaxBatchSizeUpperBound, Raw, errors);
        var queueDelay = ParseDuration(ServerSettings.MaxQueueDelay, ServingLimits.MaxQueueDelayUpperBound, Raw, errors);
        var queueSize = ParseInt(ServerSettings.MaxQueueSize, 1, ServingLimits.MaxQueueSizeUpperBound, Raw, errors);
        var maxBytes = ParseInt(ServerSettings.MaxRequestBytes, 1024, int.MaxValue, Raw, errors);
        var bytesInFlight = ParseInt(ServerSettings.MaxRequestBytesInFlight, 1024, int.MaxValue, Raw, errors);
        if (bytesInFlight < maxBytes)
        {
            errors.Add($"{ServerSettings.MaxRequestBytesInFlight.DisplayName} ({bytesInFlight}) is below {ServerSettings.MaxRequestBytes.DisplayName} ({maxBytes}): the largest request could never be admitted; raise it.");
        }

        var bodyTimeout = ParseDuration(ServerSettings.RequestBodyTimeout, TimeSpan.FromHours(1), Raw, errors);
        if (bodyTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{ServerSettings.RequestBodyTimeout.DisplayName} must be longer than 0s.");
        }

        var maxConnections = ParseInt(ServerSettings.MaxConnections, 1, 1_000_000, Raw, errors);
        var intraOpThreads = ParseInt(ServerSettings.IntraOpThreads, 0, 1024, Raw, errors);
        var sessionsText = Raw(ServerSettings.SessionsMode)!;
        if (!SessionModes.TryParse(sessionsText, out var sessionMode))
        {
            errors.Add($"{ServerSettings.SessionsMode.DisplayName}: '{sessionsText}' must be {SessionModes.Choices} (spelled so).");
        }

        var errorsBefore = errors.Count;
        var idleTimeout = ParseDuration(ServerSettings.SessionsIdleTimeout, ServingLimits.SessionIdleTimeoutUpperBound, Raw, errors);
        if (idleTimeout <= TimeSpan.Zero && errors.Count == errorsBefore)
        {
            errors.Add($"{ServerSettings.SessionsIdleTimeout.DisplayName} must be longer than 0s: a sequence would expire between its requests.");
        }

        var maxSessions = ParseInt(ServerSettings.MaxSessions, 1, ServingLimits.MaxSessionsUpperBound, Raw, errors);
        var tensorAxes = TensorAxesOverride.Parse(Raw(ServerSettings.TensorAxes), ServerSettings.TensorAxes.DisplayName, errors);

        var latency = ParseDuration(ServerSettings.FaultLatency, TimeSpan.FromMinutes(10), Raw, errors);

        var rateText = Raw(ServerSettings.FaultErrorRate)!;
        if (!double.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) || !(rate is >= 0 and <= 1))
        {
            errors.Add($"{ServerSettings.FaultErrorRate.DisplayName}: '{rateText}' must be a fraction between 0 and 1, e.g. 0.25.");
        }

        if (!LatencyBuckets.TryParse(Raw(ServerSettings.LatencySloBoundaries), out var sloBoundaries, out var boundaryError))
        {
            errors.Add($"{ServerSettings.LatencySloBoundaries.DisplayName}: {boundaryError}.");
        }

        var delay = ParseDuration(ServerSettings.ShutdownDelay, TimeSpan.FromMinutes(10), Raw, errors);
        var sequenceDrain = ParseDuration(ServerSettings.SequenceDrainTimeout, ServingLimits.SequenceDrainTimeoutUpperBound, Raw, errors);
        var shutdown = ParseDuration(ServerSettings.ShutdownTimeout, TimeSpan.MaxValue, Raw, errors);
        var mirror = ParseMirror(Raw, errors);

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        return (new GruServerOptions
        {
            ModelPath = modelPath!,
            ModelName = modelName,
            OciSource = oci,
            ExpectedDigest = digest,
            Host = host,
            Port = port,
            MetricsPort = metricsPort,
            GrpcPort = grpcPort,
            Revision = revision,
            Track = track,
            ExecutionProvider = provider,
            MaxSequenceLength = maxSequence,
            MaxRequestBatchSize = maxRequestBatch,
            MaxBatchSize = maxBatch,
            MaxQueueDelay = queueDelay,
            MaxQueueSize = queueSize,
            MaxRequestBytes = maxBytes,
            MaxRequestBytesInFlight = bytesInFlight,
            RequestBodyTimeout = bodyTimeout,
            MaxConnections = maxConnections,
            TensorAxes = tensorAxes,
            IntraOpThreads = intraOpThreads,
            Sessions = new Sequences.SessionSettings(sessionMode, idleTimeout, maxSessions),
            FaultLatency = latency,
            FaultErrorRate = rate,
            LatencySloBoundaries = sloBoundaries,
            ShutdownDelay = delay,
            SequenceDrainTimeout = sequenceDrain,
            ShutdownTimeout = shutdown,
            Mirror = mirror,
        }, errors);
    }

    private static Mirroring.MirrorSettings? ParseMirror(Func<ServerSetting, string?> raw, List<string> errors)
    {
        if (raw(ServerSettings.MirrorUrl) is not { } urlText)
        {
            return null;
        }

        if (!Uri.TryCreate(urlText, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttp || url.AbsolutePath != "/" || url.Query.Length > 0 || url.UserInfo.Length > 0)
        {
            errors.Add($"{ServerSettings.MirrorUrl.DisplayName}: '{urlText}' must be a plain http base URL such as http://gru-canary.models.svc:8080 (no path, query or credentials): the canary's inference endpoint.");
        }

        var sampleText = raw(ServerSettings.MirrorSample)!;
        if (!double.TryParse(sampleText, NumberStyles.Float, CultureInfo.InvariantCulture, out var sample) || !(sample is > 0 and <= 1))
        {
            errors.Add($"{ServerSettings.MirrorSample.DisplayName}: '{sampleText}' must be a fraction above 0 and at most 1, e.g. 0.1.");
        }

        var concurrency = ParseInt(ServerSettings.MirrorMaxConcurrency, 1, 256, raw, errors);
        var rateText = raw(ServerSettings.MirrorMaxRate)!;
        if (!double.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) || !(rate is > 0 and <= 100_000))
        {
            errors.Add($"{ServerSettings.MirrorMaxRate.DisplayName}: '{rateText}' must be a number of requests per second above 0 and at most 100000, e.g. 50.");
        }

        return url is null ? null : new Mirroring.MirrorSettings(url, sample, concurrency, rate);
    }

    private static int ParseInt(ServerSetting setting, int min, int max, Func<ServerSetting, string?> raw, List<string> errors)
    {
        var text = raw(setting);
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        errors.Add($"{setting.DisplayName}: '{text}' must be a whole number from {min} to {max}.");
        return 0;
    }

    // Durations take the CRD's grammar (GoDuration), so whatever a GruModel can say, the server can read.
    private static TimeSpan ParseDuration(ServerSetting setting, TimeSpan max, Func<ServerSetting, string?> raw, List<string> errors)
    {
        var text = raw(setting);
        if (!GoDuration.TryParse(text, out var value, out var error))
        {
            errors.Add($"{setting.DisplayName}: {error}.");
            return TimeSpan.Zero;
        }
        if (value > max)
        {
            errors.Add($"{setting.DisplayName}: '{text}' is longer than the {GoDuration.Format(max)} allowed.");
            return TimeSpan.Zero;
        }
        return value;
    }

    private static bool IsUrlSegment(string name) =>
        name.Length is > 0 and <= 128 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
}
