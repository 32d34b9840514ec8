using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;

namespace GruServer.Hosting;

/// <summary>Where CUDA is wanted: Auto falls back to CPU, CUDA refuses to start without it, CPU never tries.</summary>
internal enum ExecutionProviderPreference
{
    Auto,
    CUDA,
    CPU,
}

/// <summary>The server's configuration after parsing and validation.</summary>
internal sealed record GruServerOptions
{
    public required string ModelPath { get; init; }
    public required string ModelName { get; init; }

    /// <summary>Lower-case hex without prefix, or null when no digest is pinned.</summary>
    public string? ExpectedSha256 { get; init; }

    public string Host { get; init; } = "0.0.0.0";
    public int Port { get; init; } = 8080;
    public int MetricsPort { get; init; } = 9464;
    public string Revision { get; init; } = "0";
    public string Track { get; init; } = "stable";
    public ExecutionProviderPreference ExecutionProvider { get; init; } = ExecutionProviderPreference.Auto;
    public int MaxSequenceLength { get; init; } = 4096;
    public int MaxBatchSize { get; init; } = 64;
    public long MaxRequestBytes { get; init; } = 16 * 1024 * 1024;
    public TimeSpan FaultLatency { get; init; }
    public double FaultErrorRate { get; init; }
    public TimeSpan ShutdownDelay { get; init; }
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

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

        var modelName = Raw(ServerSettings.ModelName) ?? (modelPath is null ? "" : Path.GetFileNameWithoutExtension(modelPath));
        if (modelPath is not null && !IsUrlSegment(modelName))
        {
            errors.Add($"{ServerSettings.ModelName.DisplayName}: '{modelName}' must be 1-128 letters, digits, '.', '_' or '-' (it is a URL segment).");
        }

        string? sha = null;
        if (Raw(ServerSettings.ModelSha256) is { } shaText)
        {
            sha = shaText.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) ? shaText[7..] : shaText;
            sha = sha.ToLowerInvariant();
            if (sha.Length != 64 || !sha.All(Uri.IsHexDigit))
            {
                errors.Add($"{ServerSettings.ModelSha256.DisplayName}: '{shaText}' is not a sha256 digest; give 64 hex characters, optionally prefixed 'sha256:'.");
            }
        }

        var host = Raw(ServerSettings.Host)!;
        if (host != "localhost" && !IPAddress.TryParse(host, out _))
        {
            errors.Add($"{ServerSettings.Host.DisplayName}: '{host}' is not an IP address; use e.g. 0.0.0.0, 127.0.0.1 or localhost.");
        }

        var port = ParseInt(ServerSettings.Port, 1, 65535, Raw, errors);
        var metricsPort = ParseInt(ServerSettings.MetricsPort, 1, 65535, Raw, errors);
        if (port == metricsPort && port > 0)
        {
            errors.Add($"{ServerSettings.MetricsPort.DisplayName} must differ from {ServerSettings.Port.DisplayName} (both are {port}).");
        }

        var revision = Raw(ServerSettings.Revision)!;
        var track = Raw(ServerSettings.Track)!;
        if (track is not ("stable" or "canary"))
        {
            errors.Add($"{ServerSettings.Track.DisplayName}: '{track}' must be stable or canary.");
        }

        var providerText = Raw(ServerSettings.ExecutionProvider)!;
        if (!Enum.TryParse<ExecutionProviderPreference>(providerText, ignoreCase: true, out var provider) || !Enum.IsDefined(provider) || int.TryParse(providerText, out _))
        {
            errors.Add($"{ServerSettings.ExecutionProvider.DisplayName}: '{providerText}' must be Auto, CUDA or CPU.");
        }

        var maxSequence = ParseInt(ServerSettings.MaxSequenceLength, 1, 1_000_000, Raw, errors);
        var maxBatch = ParseInt(ServerSettings.MaxBatchSize, 1, 1_000_000, Raw, errors);
        var maxBytes = ParseInt(ServerSettings.MaxRequestBytes, 1024, int.MaxValue, Raw, errors);

        var latencyText = Raw(ServerSettings.FaultLatency)!;
        if (!DurationText.TryParse(latencyText, out var latency) || latency > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{ServerSettings.FaultLatency.DisplayName}: '{latencyText}' is not a duration up to 10m; use e.g. 150ms or 2s.");
        }

        var rateText = Raw(ServerSettings.FaultErrorRate)!;
        if (!double.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) || !(rate is >= 0 and <= 1))
        {
            errors.Add($"{ServerSettings.FaultErrorRate.DisplayName}: '{rateText}' must be a fraction between 0 and 1, e.g. 0.25.");
        }

        var delayText = Raw(ServerSettings.ShutdownDelay)!;
        if (!DurationText.TryParse(delayText, out var delay) || delay > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{ServerSettings.ShutdownDelay.DisplayName}: '{delayText}' is not a duration up to 10m; use e.g. 5s.");
        }

        var shutdownText = Raw(ServerSettings.ShutdownTimeout)!;
        if (!DurationText.TryParse(shutdownText, out var shutdown))
        {
            errors.Add($"{ServerSettings.ShutdownTimeout.DisplayName}: '{shutdownText}' is not a duration; use e.g. 30s.");
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        return (new GruServerOptions
        {
            ModelPath = modelPath!,
            ModelName = modelName,
            ExpectedSha256 = sha,
            Host = host,
            Port = port,
            MetricsPort = metricsPort,
            Revision = revision,
            Track = track,
            ExecutionProvider = provider,
            MaxSequenceLength = maxSequence,
            MaxBatchSize = maxBatch,
            MaxRequestBytes = maxBytes,
            FaultLatency = latency,
            FaultErrorRate = rate,
            ShutdownDelay = delay,
            ShutdownTimeout = shutdown,
        }, errors);
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

    private static bool IsUrlSegment(string name) =>
        name.Length is > 0 and <= 128 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
}
