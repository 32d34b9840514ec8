using GruServer.Tests.Support;
using TestSupport;

namespace GruServer.Tests.Server;

/// <summary>Flags, GRU_* environment variables, --help, and configurations the server must refuse, run as the
/// real process: a refusal is an exit code and a message naming the setting, never a stack trace.</summary>
public sealed class ConfigurationTests
{
    private static readonly string[] ContractFlags =
    [
        "--model", "--model-name", "--model-sha256", "--host", "--port", "--metrics-port", "--revision", "--track",
        "--execution-provider", "--max-sequence-length", "--max-request-batch-size", "--max-batch-size", "--max-queue-delay", "--max-queue-size", "--grpc-port", "--tensor-axes",
        "--fault-latency", "--fault-error-rate", "--latency-slo-boundaries",
    ];

    [Fact]
    public async Task HelpDocumentsEveryFlagWithItsEnvironmentVariable()
    {
        var (exitCode, output) = await GruServerProcess.RunToExitAsync(["--help"]);

        Assert.Equal(0, exitCode);
        foreach (var flag in ContractFlags)
        {
            Assert.Contains(flag + " ", output, StringComparison.Ordinal);
            Assert.Contains("env GRU_" + flag[2..].ToUpperInvariant().Replace('-', '_'), output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--port", "abc", "--port (GRU_PORT): 'abc' must be a whole number from 1 to 65535")]
    [InlineData("--track", "blue", "--track (GRU_TRACK): 'blue' must be stable or canary")]
    [InlineData("--execution-provider", "TPU", "--execution-provider (GRU_EXECUTION_PROVIDER): 'TPU' must be Auto, CUDA or CPU")]
    [InlineData("--model-sha256", "sha256:abc", "--model-sha256 (GRU_MODEL_SHA256): 'sha256:abc' is not a sha256 digest")]
    [InlineData("--fault-latency", "soon", "--fault-latency (GRU_FAULT_LATENCY): 'soon' is not a duration like 500ms, 30s, 5m or 1h30m")]
    [InlineData("--fault-error-rate", "1.5", "--fault-error-rate (GRU_FAULT_ERROR_RATE): '1.5' must be a fraction between 0 and 1")]
    [InlineData("--max-request-batch-size", "0", "--max-request-batch-size (GRU_MAX_REQUEST_BATCH_SIZE): '0' must be a whole number from 1")]
    [InlineData("--max-batch-size", "0", "--max-batch-size (GRU_MAX_BATCH_SIZE): '0' must be a whole number from 1 to 4096")]
    [InlineData("--max-queue-delay", "11s", "--max-queue-delay (GRU_MAX_QUEUE_DELAY): '11s' is longer than the 10s allowed")]
    [InlineData("--max-queue-size", "-1", "--max-queue-size (GRU_MAX_QUEUE_SIZE): '-1' must be a whole number from 1")]
    [InlineData("--grpc-port", "0", "--grpc-port (GRU_GRPC_PORT): '0' must be a whole number from 1 to 65535")]
    [InlineData("--grpc-port", "8080", "--grpc-port (GRU_GRPC_PORT) must differ from --port (GRU_PORT) and --metrics-port (GRU_METRICS_PORT)")]
    [InlineData("--tensor-axes", "input", "--tensor-axes (GRU_TENSOR_AXES): 'input' must be name=axes")]
    [InlineData("--intra-op-threads", "-1", "--intra-op-threads (GRU_INTRA_OP_THREADS): '-1' must be a whole number from 0 to 1024")]
    [InlineData("--host", "example.com", "--host (GRU_HOST): 'example.com' is not an IP address")]
    [InlineData("--latency-slo-boundaries", "200ms,0.5ms", "--latency-slo-boundaries (GRU_LATENCY_SLO_BOUNDARIES): '0.5ms' must lie between 1ms and 1h")]
    public async Task InvalidFlagIsRefusedWithExitCode2NamingTheFlag(string flag, string value, string message)
    {
        var (exitCode, output) = await GruServerProcess.RunToExitAsync(["--model", "/nonexistent.onnx", flag, value]);

        Assert.Equal(2, exitCode);
        Assert.Contains(message, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownFlagIsRefusedWithExitCode2NamingIt()
    {
        var (exitCode, output) = await GruServerProcess.RunToExitAsync(["--model", "/nonexistent.onnx", "--max-batch", "4"]);

        Assert.Equal(2, exitCode);
        Assert.Contains("GruServer: Unrecognized command or argument '--max-batch'", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Usage:", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingModelSettingIsRefused()
    {
        var (exitCode, output) = await GruServerProcess.RunToExitAsync([]);

        Assert.Equal(2, exitCode);
        Assert.Contains("--model (GRU_MODEL) is required", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnvironmentVariablesConfigureTheServerAndFlagsWinOverThem()
    {
        var model = await GruTestModels.WriteAsync();
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = model.Path,
            ModelName = "flag-name",
            Environment = new Dictionary<string, string> { ["GRU_MAX_REQUEST_BATCH_SIZE"] = "1", ["GRU_MODEL_NAME"] = "env-name" },
        });
        using var http = new HttpClient { BaseAddress = server.BaseUrl };

        using var byFlagName = await http.GetAsync("v2/models/flag-name/ready");
        using var content = new StringContent(GruTestModels.InferRequestJson(model.Spec, batch: 2), System.Text.Encoding.UTF8, "application/json");
        using var tooLarge = await http.PostAsync("v2/models/flag-name/infer", content);

        Assert.Equal(System.Net.HttpStatusCode.OK, byFlagName.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, tooLarge.StatusCode);
        Assert.Contains("at most 1 per request (--max-request-batch-size)", await tooLarge.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("localhost")]
    public async Task ListensOnEveryAddressByDefaultOrOnTheGivenHost(string host)
    {
        var model = await GruTestModels.WriteAsync();
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions { ModelPath = model.Path, Host = host });
        using var http = new HttpClient();

        var metrics = await MetricsScrape.FetchAsync(http, server.MetricsUrl);

        Assert.Equal(1, metrics.Value("gru_model_ready"));
    }

    [Fact]
    public async Task MissingModelFileStopsTheServerWithExitCode1()
    {
        var (exitCode, output) = await RunOnLoopbackAsync("/nonexistent/model.onnx");

        Assert.Equal(1, exitCode);
        Assert.Contains("model file '/nonexistent/model.onnx' does not exist", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequiringCudaWithoutCudaStopsTheServerWithAClearError()
    {
        var model = await GruTestModels.WriteAsync();

        var (exitCode, output) = await RunOnLoopbackAsync(model.Path, extra: ["--execution-provider", "CUDA"]);

        Assert.Equal(1, exitCode);
        Assert.Contains("--execution-provider CUDA was requested but CUDA is unavailable", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TakenPortsStopTheServerWithExitCode1NamingTheFlag()
    {
        var model = await GruTestModels.WriteAsync();
        await using var running = await GruServerProcess.StartAsync(new GruServerStartOptions { ModelPath = model.Path });

        var inference = await RunOnLoopbackAsync(model.Path, port: running.Port);
        var metrics = await RunOnLoopbackAsync(model.Path, metricsPort: running.MetricsPort);

        Assert.Equal(1, inference.ExitCode);
        Assert.Contains($"Cannot listen on 127.0.0.1:{running.Port}", inference.Output, StringComparison.Ordinal);
        Assert.Contains("(--port)", inference.Output, StringComparison.Ordinal);
        Assert.Equal(1, metrics.ExitCode);
        Assert.Contains($"Cannot listen on 127.0.0.1:{running.MetricsPort}", metrics.Output, StringComparison.Ordinal);
        Assert.Contains("(--metrics-port)", metrics.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AModelFileThatIsNotOnnxStopsTheServerWithExitCode1()
    {
        var path = Path.Combine(Path.GetTempPath(), $"not-a-model-{Guid.NewGuid():N}.onnx");
        await File.WriteAllTextAsync(path, "this is not a protobuf");

        var (exitCode, output) = await RunOnLoopbackAsync(path);

        Assert.Equal(1, exitCode);
        Assert.Contains("ONNX Runtime cannot load the model", output, StringComparison.Ordinal);
    }

    /// <summary>Runs the server to its exit on 127.0.0.1 with free ports unless given.</summary>
    private static Task<(int ExitCode, string Output)> RunOnLoopbackAsync(string modelPath, int? port = null, int? metricsPort = null, string[]? extra = null)
    {
        static string Text(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return GruServerProcess.RunToExitAsync(
            ["--model", modelPath, "--host", "127.0.0.1", "--port", Text(port ?? FreePort.Next()), "--metrics-port", Text(metricsPort ?? FreePort.Next()), "--grpc-port", Text(FreePort.Next()), .. extra ?? []]);
    }
}
