using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace TestSupport;

/// <summary>How to start a GruServer for a test: the model, the flags the operator would pass, and extras.</summary>
public sealed record GruServerStartOptions
{
    /// <summary>Path of the ONNX model (see <see cref="GruTestModels"/>).</summary>
    public required string ModelPath { get; init; }

    public string ModelName { get; init; } = "gru";

    /// <summary>Pinned digest (hex, with or without <c>sha256:</c>); null serves whatever the file is.</summary>
    public string? ModelSha256 { get; init; }

    public string Revision { get; init; } = "1";

    public string Track { get; init; } = "stable";

    /// <summary><c>--host</c>; the fixture always connects through 127.0.0.1, so 0.0.0.0 works too.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Port of the inference endpoint; a free one when null. A fixed port plays a pod's container port on its own
    /// 127.0.0.N address (the operator asks pods at podIP:8080).</summary>
    public int? Port { get; init; }

    /// <summary><c>--fault-latency</c>, e.g. "150ms"; null leaves it off.</summary>
    public string? FaultLatency { get; init; }

    /// <summary><c>--fault-error-rate</c>, 0..1; null leaves it off.</summary>
    public double? FaultErrorRate { get; init; }

    /// <summary>Any further flags, e.g. <c>["--max-request-batch-size", "4"]</c>.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>Environment variables for the process (GRU_* variables of the test runner are never inherited).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Wait for <c>/v2/health/ready</c> (true) or only <c>/v2/health/live</c> (false, e.g. for a digest mismatch).</summary>
    public bool WaitForReady { get; init; } = true;

    /// <summary>Generous: a loaded 2-core machine may take a while to start .NET and ONNX Runtime.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(90);
}

/// <summary>A real GruServer process (the built GruServer.dll run with <c>dotnet</c>) on free 127.0.0.1 ports.
/// Stops with SIGTERM, as Kubernetes does, and kills the process when it does not exit in time.</summary>
public sealed class GruServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private GruServerProcess(Process process, string host, int port, int metricsPort, int grpcPort)
    {
        GrpcPort = grpcPort;
        GrpcUrl = new Uri($"http://{host}:{grpcPort}");
        _process = process;
        Port = port;
        MetricsPort = metricsPort;
        var address = host is "0.0.0.0" or "localhost" ? "127.0.0.1" : host;
        BaseUrl = new Uri($"http://{address}:{port}/");
        MetricsUrl = new Uri($"http://{address}:{metricsPort}/metrics");
    }

    /// <summary>Inference endpoint root, e.g. http://127.0.0.1:PORT/ (append v2/...).</summary>
    public Uri BaseUrl { get; }

    /// <summary>The Prometheus scrape URL, http://127.0.0.1:METRICS_PORT/metrics.</summary>
    public Uri MetricsUrl { get; }

    public int Port { get; }

    public int MetricsPort { get; }

    /// <summary>Port of the v2 gRPC endpoint (HTTP/2 without TLS).</summary>
    public int GrpcPort { get; }

    /// <summary>Address of the gRPC endpoint, http://127.0.0.1:GRPC_PORT, for a GrpcChannel.</summary>
    public Uri GrpcUrl { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Everything the server wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Path of the GruServer.dll the fixture runs: <c>GRU_SERVER_DLL</c> when set, else the build output of
    /// src/GruServer in the same configuration as the running test assembly.</summary>
    public static string LocateServerDll()
    {
        if (System.Environment.GetEnvironmentVariable("GRU_SERVER_DLL") is { Length: > 0 } explicitPath)
        {
            return File.Exists(explicitPath) ? explicitPath : throw new FileNotFoundException($"GRU_SERVER_DLL points to {explicitPath}, which does not exist.");
        }

        return BuildOutput.Locate("src/GruServer", "GruServer.dll");
    }

    /// <summary>Starts a server and waits until it is ready (or live); retries once on a port race.</summary>
    public static async Task<GruServerProcess> StartAsync(GruServerStartOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        for (var attempt = 1; ; attempt++)
        {
            var server = Launch(options);
            try
            {
                await server.WaitUntilUpAsync(options, cancellationToken).ConfigureAwait(false);
                return server;
            }
            catch (InvalidOperationException) when (attempt < 3 && server.HasExited && server.Output.Contains("Cannot listen", StringComparison.Ordinal))
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }
            catch
            {
                await server.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>Runs GruServer with exactly <paramref name="arguments"/> until it exits on its own (e.g. <c>--help</c>,
    /// or a configuration it must refuse); kills it after <paramref name="timeout"/>. GRU_* variables of the
    /// test runner are not inherited; <paramref name="environment"/> adds some. <paramref name="started"/> gets the process id
    /// (e.g. to sample its memory while it runs).</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(
        IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null, Action<int>? started = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var start = NewStartInfo(environment ?? new Dictionary<string, string>());
        start.ArgumentList.Add(LocateServerDll());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        started?.Invoke(process.Id);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timer = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"GruServer {string.Join(' ', arguments)} did not exit within {timeout}; output:\n{await stdout.ConfigureAwait(false)}{await stderr.ConfigureAwait(false)}");
        }

        return (process.ExitCode, await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false));
    }

    /// <summary>Sends SIGTERM and waits for a graceful exit; kills the process after <paramref name="timeout"/>.
    /// Returns the exit code (137 when it had to be killed).</summary>
    public async Task<int> StopAsync(TimeSpan? timeout = null)
    {
        if (!HasExited)
        {
            SendSigTerm();
        }

        return await WaitForExitAsync(timeout ?? TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }

    /// <summary>Sends SIGTERM without waiting, e.g. to test that an in-flight request still completes.</summary>
    public void SendSigTerm() => Sigterm.Send(_process.Id, "GruServer");

    /// <summary>Waits for the process to exit on its own; kills it after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var timer = new CancellationTokenSource(timeout);
        try
        {
            return await _exited.Task.WaitAsync(timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _exited.Task.ConfigureAwait(false);
            return 137;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            await StopAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false);
        }

        _process.Dispose();
    }

    public override string ToString() => $"GruServer pid {_process.Id} at {BaseUrl} (metrics {MetricsUrl})";

    private static GruServerProcess Launch(GruServerStartOptions options)
    {
        var port = options.Port ?? FreePort.Next();
        var metricsPort = FreePort.Next();
        while (metricsPort == port)
        {
            metricsPort = FreePort.Next();
        }

        var grpcPort = FreePort.Next();
        while (grpcPort == port || grpcPort == metricsPort)
        {
            grpcPort = FreePort.Next();
        }

        var start = NewStartInfo(options.Environment);
        string[] arguments =
        [
            LocateServerDll(),
            "--model", options.ModelPath,
            "--model-name", options.ModelName,
            "--host", options.Host,
            "--port", port.ToString(CultureInfo.InvariantCulture),
            "--metrics-port", metricsPort.ToString(CultureInfo.InvariantCulture),
            "--grpc-port", grpcPort.ToString(CultureInfo.InvariantCulture),
            "--revision", options.Revision,
            "--track", options.Track,
            "--shutdown-timeout", "30s",
        ];
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        void Flag(string name, string? value)
        {
            if (value is not null)
            {
                start.ArgumentList.Add(name);
                start.ArgumentList.Add(value);
            }
        }

        Flag("--model-sha256", options.ModelSha256);
        Flag("--fault-latency", options.FaultLatency);
        Flag("--fault-error-rate", options.FaultErrorRate?.ToString(CultureInfo.InvariantCulture));
        foreach (var extra in options.ExtraArguments)
        {
            start.ArgumentList.Add(extra);
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var server = new GruServerProcess(process, options.Host, port, metricsPort, grpcPort);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.Exited += (_, _) =>
        {
            // Let the output readers drain before reporting the exit.
            process.WaitForExit();
            server._exited.TrySetResult(process.ExitCode);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    private static ProcessStartInfo NewStartInfo(IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("GRU_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return start;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private async Task WaitUntilUpAsync(GruServerStartOptions options, CancellationToken cancellationToken)
    {
        var path = options.WaitForReady ? "v2/health/ready" : "v2/health/live";
        using var http = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(5) };
        switch (await ServerReadiness.WaitAsync(http, new Uri(BaseUrl, path), r => r.IsSuccessStatusCode, () => HasExited, options.StartTimeout, TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false))
        {
            case ReadinessOutcome.Exited:
                throw new InvalidOperationException($"GruServer exited with code {_exited.Task.Result} before {path} answered 200. Output:\n{Output}");
            case ReadinessOutcome.TimedOut:
                throw new TimeoutException($"GruServer did not answer 200 on {path} within {options.StartTimeout}. Output:\n{Output}");
        }
    }
}
