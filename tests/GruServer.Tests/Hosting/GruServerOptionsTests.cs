using GruServer.Hosting;
using GruServing.Contract.Serving;
using Microsoft.Extensions.Configuration;

namespace GruServer.Tests.Hosting;

public sealed class GruServerOptionsTests
{
    public static TheoryData<string, Dictionary<string, string?>, string> Invalid => new()
    {
        { "model missing", new() { }, "--model (GRU_MODEL) is required" },
        { "port not a number", new() { ["MODEL"] = "m.onnx", ["PORT"] = "http" }, "--port (GRU_PORT): 'http' must be a whole number from 1 to 65535" },
        { "port out of range", new() { ["MODEL"] = "m.onnx", ["PORT"] = "70000" }, "--port (GRU_PORT): '70000' must be a whole number from 1 to 65535" },
        { "metrics port equals port", new() { ["MODEL"] = "m.onnx", ["PORT"] = "9000", ["METRICS_PORT"] = "9000" }, "--metrics-port (GRU_METRICS_PORT) must differ from --port (GRU_PORT) (both are 9000)" },
        { "track unknown", new() { ["MODEL"] = "m.onnx", ["TRACK"] = "Stable" }, "--track (GRU_TRACK): 'Stable' must be stable or canary" },
        { "provider unknown", new() { ["MODEL"] = "m.onnx", ["EXECUTION_PROVIDER"] = "ROCm" }, "'ROCm' must be Auto, CUDA or CPU" },
        { "provider as number", new() { ["MODEL"] = "m.onnx", ["EXECUTION_PROVIDER"] = "1" }, "'1' must be Auto, CUDA or CPU" },
        { "digest too short", new() { ["MODEL"] = "m.onnx", ["MODEL_SHA256"] = "abc" }, "'abc' is not a sha256 digest" },
        { "digest not hex", new() { ["MODEL"] = "m.onnx", ["MODEL_SHA256"] = new string('g', 64) }, "is not a sha256 digest" },
        { "model name with slash", new() { ["MODEL"] = "m.onnx", ["MODEL_NAME"] = "a/b" }, "--model-name (GRU_MODEL_NAME): 'a/b' must be 1-128 letters" },
        { "latency without unit", new() { ["MODEL"] = "m.onnx", ["FAULT_LATENCY"] = "150" }, "--fault-latency (GRU_FAULT_LATENCY): '150' has no unit or an unknown one" },
        { "latency negative", new() { ["MODEL"] = "m.onnx", ["FAULT_LATENCY"] = "-5ms" }, "'-5ms' is not a duration" },
        { "latency with a space", new() { ["MODEL"] = "m.onnx", ["FAULT_LATENCY"] = "150 ms" }, "'150 ms' has no unit or an unknown one" },
        { "latency as a bare fraction", new() { ["MODEL"] = "m.onnx", ["FAULT_LATENCY"] = ".5s" }, "'.5s' is not a duration" },
        { "error rate above one", new() { ["MODEL"] = "m.onnx", ["FAULT_ERROR_RATE"] = "2" }, "'2' must be a fraction between 0 and 1" },
        { "error rate NaN", new() { ["MODEL"] = "m.onnx", ["FAULT_ERROR_RATE"] = "NaN" }, "'NaN' must be a fraction between 0 and 1" },
        { "request batch zero", new() { ["MODEL"] = "m.onnx", ["MAX_REQUEST_BATCH_SIZE"] = "0" }, "--max-request-batch-size (GRU_MAX_REQUEST_BATCH_SIZE): '0' must be a whole number from 1 to 1048576" },
        { "sequence above the CRD bound", new() { ["MODEL"] = "m.onnx", ["MAX_SEQUENCE_LENGTH"] = "1048577" }, "'1048577' must be a whole number from 1 to 1048576" },
        { "host name", new() { ["MODEL"] = "m.onnx", ["HOST"] = "my-host" }, "'my-host' is not an IP address" },
        { "mirror url with a path", new() { ["MODEL"] = "m.onnx", ["MIRROR_URL"] = "http://canary:8080/v2" }, "--mirror-url (GRU_MIRROR_URL): 'http://canary:8080/v2' must be a plain http base URL" },
        { "mirror url https", new() { ["MODEL"] = "m.onnx", ["MIRROR_URL"] = "https://canary:8080" }, "must be a plain http base URL such as http://gru-canary.models.svc:8080" },
        { "mirror sample zero", new() { ["MODEL"] = "m.onnx", ["MIRROR_URL"] = "http://canary:8080", ["MIRROR_SAMPLE"] = "0" }, "--mirror-sample (GRU_MIRROR_SAMPLE): '0' must be a fraction above 0 and at most 1" },
        { "mirror sample above one", new() { ["MODEL"] = "m.onnx", ["MIRROR_URL"] = "http://canary:8080", ["MIRROR_SAMPLE"] = "1.5" }, "'1.5' must be a fraction above 0 and at most 1" },
        { "mirror concurrency zero", new() { ["MODEL"] = "m.onnx", ["MIRROR_URL"] = "http://canary:8080", ["MIRROR_MAX_CONCURRENCY"] = "0" }, "--mirror-max-concurrency (GRU_MIRROR_MAX_CONCURRENCY): '0' must be a whole number from 1 to 256" },
        { "mirror rate negative", new() { ["MODEL"] = "m.onnx", ["MIRROR_URL"] = "http://canary:8080", ["MIRROR_MAX_RATE"] = "-1" }, "--mirror-max-rate (GRU_MIRROR_MAX_RATE): '-1' must be a number of requests per second above 0" },
        { "shutdown delay too long", new() { ["MODEL"] = "m.onnx", ["SHUTDOWN_DELAY"] = "1h" }, "--shutdown-delay (GRU_SHUTDOWN_DELAY): '1h' is longer than the 10m allowed" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void RefusesInvalidSettingsNamingFlagAndVariable(string scenario, Dictionary<string, string?> settings, string error)
    {
        var (options, errors) = GruServerOptions.Parse(Configuration(settings));

        Assert.Null(options);
        Assert.True(errors.Any(e => e.Contains(error, StringComparison.Ordinal)), $"{scenario}: [{string.Join(" | ", errors)}]");
    }

    [Fact]
    public void DefaultsMatchTheContract()
    {
        var (options, errors) = GruServerOptions.Parse(Configuration(new() { ["MODEL"] = "/models/session-recs.onnx" }));

        Assert.Empty(errors);
        Assert.NotNull(options);
        Assert.Equal("session-recs", options.ModelName);
        Assert.Equal("0.0.0.0", options.Host);
        Assert.Equal(8080, options.Port);
        Assert.Equal(9464, options.MetricsPort);
        Assert.Equal("stable", options.Track);
        Assert.Equal(ExecutionProvider.Auto, options.ExecutionProvider);
        Assert.Equal(ServingLimits.MaxRequestBatchSize, options.MaxRequestBatchSize);
        Assert.Equal(ServingLimits.MaxSequenceLength, options.MaxSequenceLength);
        Assert.Null(options.ExpectedDigest);
        Assert.Equal(TimeSpan.Zero, options.FaultLatency);
        Assert.Equal(0, options.FaultErrorRate);
        Assert.Null(options.Mirror);
    }

    [Theory]
    [InlineData("sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")]
    [InlineData("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")]
    public void DigestIsReadWithOrWithoutPrefix(string digest)
    {
        var (options, _) = GruServerOptions.Parse(Configuration(new() { ["MODEL"] = "m.onnx", ["MODEL_SHA256"] = digest }));

        Assert.Equal("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", options?.ExpectedDigest?.Hex);
    }

    [Theory]
    [InlineData("150ms", 150)]
    [InlineData("0ms", 0)]
    [InlineData("1.5s", 1500)]
    [InlineData("1m30s", 90_000)]
    public void DurationsUseTheCrdGrammar(string text, double milliseconds)
    {
        var (options, errors) = GruServerOptions.Parse(Configuration(new() { ["MODEL"] = "m.onnx", ["FAULT_LATENCY"] = text }));

        Assert.Empty(errors);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), options?.FaultLatency);
    }

    private static IConfiguration Configuration(Dictionary<string, string?> settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build();

    [Fact]
    public void MirrorSettingsAreReadWithTheirDefaults()
    {
        var (options, errors) = GruServerOptions.Parse(Configuration(new() { ["MODEL"] = "m.onnx", ["MIRROR_URL"] = "http://gru-canary.ml.svc:8080", ["MIRROR_SAMPLE"] = "0.25" }));

        Assert.Empty(errors);
        Assert.Equal(new Uri("http://gru-canary.ml.svc:8080"), options!.Mirror!.Target);
        Assert.Equal(0.25, options.Mirror.Sample);
        Assert.Equal(4, options.Mirror.MaxConcurrency);
        Assert.Equal(100, options.Mirror.MaxRate);
    }
}
