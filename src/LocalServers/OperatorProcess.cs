using System.Diagnostics;
using System.Globalization;

namespace LocalServers;

/// <summary>
/// How to start the built operator as its own process: the flags a local run passes (as `make run` does: no leader
/// election, 127.0.0.1, metrics off, health on a free port), plus what a caller adds.
/// </summary>
public sealed record OperatorProcessOptions
{
    /// <summary>The built gru-operator.dll; null finds it beside the running assembly's configuration (<see cref="BuildOutput"/>).</summary>
    public string? OperatorDll { get; init; }

    /// <summary><c>--kubeconfig</c>; null leaves it out.</summary>
    public string? Kubeconfig { get; init; }

    /// <summary><c>--namespaces</c> (comma-separated); null watches every namespace.</summary>
    public string? Namespaces { get; init; }

    /// <summary><c>--leader-elect</c>; off for one local process.</summary>
    public bool LeaderElection { get; init; }

    /// <summary><c>--bind-address</c> of the metrics and health endpoints.</summary>
    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary><c>--metrics-port</c>; 0 turns /metrics off, <see cref="FreePort.Next"/> gives one to scrape.</summary>
    public int MetricsPort { get; init; }

    /// <summary><c>--health-port</c>; null takes a free one here, so <see cref="OperatorProcess.WaitHealthyAsync"/> can ask it.</summary>
    public int? HealthPort { get; init; }

    /// <summary><c>--prometheus-address</c> for canary analysis; null leaves it out.</summary>
    public Uri? PrometheusAddress { get; init; }

    /// <summary>Further flags, after the ones above, e.g. <c>["--verify-served-models", "false"]</c>.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Pass <see cref="Arguments"/> only, as a user types them (e.g. <c>--help</c>, a misspelled flag): none of the flags above.</summary>
    public bool ArgumentsOnly { get; init; }

    /// <summary>Variables set for the process; the runner's GRU_OPERATOR_* and KUBECONFIG are never inherited.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Called with each line the operator writes (e.g. to echo it or append it to a log file).</summary>
    public Action<string>? OutputLine { get; init; }

    /// <summary>How long <see cref="OperatorProcess.StopAsync"/> waits after SIGTERM before it kills the process.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A user's command line: exactly <paramref name="arguments"/>.</summary>
    public static OperatorProcessOptions CommandLine(params string[] arguments) => new() { Arguments = arguments, ArgumentsOnly = true };
}

/// <summary>
/// The built operator (gru-operator.dll) run with <c>dotnet</c> as its own process, as `make run` and a pod run it; shared by
/// the tests, the benches and `make demo` so there is one way to start it. Stops with SIGTERM, as the kubelet does, and
/// kills it when it does not exit in time; its output is kept (stdout and stderr apart too) for assertion messages.
/// </summary>
public sealed class OperatorProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly OperatorProcessOptions _options;
    // Generous: tests look for lines (and their absence) anywhere in a run of several minutes at Information level.
    private const int LogCapacity = 4_000_000;
    private readonly ProcessLog _log = new(LogCapacity);
    private readonly ProcessLog _stdout = new(LogCapacity);
    private readonly ProcessLog _stderr = new(LogCapacity);
    private bool _disposed;

    private OperatorProcess(Process process, OperatorProcessOptions options, int? healthPort)
    {
        _process = process;
        _options = options;
        HealthPort = healthPort;
    }

    /// <summary>The process id, for /proc readings (memory, CPU).</summary>
    public int Id => _process.Id;

    /// <summary>Port of /metrics on the bind address (0: off).</summary>
    public int MetricsPort => _options.ArgumentsOnly ? 0 : _options.MetricsPort;

    /// <summary>Port of /healthz and /readyz; null when the command line did not set one this side knows.</summary>
    public int? HealthPort { get; }

    /// <summary>True once it has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Its exit code, once <see cref="HasExited"/>.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything it wrote so far, stdout and stderr interleaved.</summary>
    public string Output => _log.ToString();

    /// <summary>What it wrote to stdout so far.</summary>
    public string StandardOutput => _stdout.ToString();

    /// <summary>What it wrote to stderr so far.</summary>
    public string StandardError => _stderr.ToString();

    /// <summary>Starts the operator without waiting for it (it may well exit at once: a refused flag, an unreachable cluster).</summary>
    public static OperatorProcess Start(OperatorProcessOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var dll = options.OperatorDll ?? BuildOutput.Locate("src/GruOperator", "gru-operator.dll");
        var start = new ProcessStartInfo(System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        int? healthPort = null;
        if (!options.ArgumentsOnly)
        {
            healthPort = options.HealthPort ?? FreePort.Next();
            foreach (var argument in Flags(options, healthPort.Value))
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (var argument in options.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The runner's own settings must not point the operator elsewhere: only what the options say reaches it.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("GRU_OPERATOR_", StringComparison.Ordinal) || k == "KUBECONFIG").ToList())
        {
            start.Environment.Remove(key);
        }

        foreach (var (key, value) in options.Environment)
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start };
        var op = new OperatorProcess(process, options, healthPort is 0 ? null : healthPort);
        process.OutputDataReceived += (_, e) => op.Receive(e.Data, op._stdout);
        process.ErrorDataReceived += (_, e) => op.Receive(e.Data, op._stderr);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return op;
    }

    /// <summary>Starts the operator and waits until its /healthz answers; throws with its output when it exits first or takes longer than <paramref name="timeout"/>.</summary>
    public static async Task<OperatorProcess> StartAsync(OperatorProcessOptions options, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var op = Start(options);
        try
        {
            await op.WaitHealthyAsync(timeout, cancellationToken).ConfigureAwait(false);
            return op;
        }
        catch
        {
            await op.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Waits until /healthz answers 200; throws with its output when it exits first or takes longer than <paramref name="timeout"/>.</summary>
    public async Task WaitHealthyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var port = HealthPort ?? throw new InvalidOperationException("the operator's health port is not known here: leave OperatorProcessOptions.HealthPort null or set a port");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var url = new Uri($"http://{(_options.BindAddress is "0.0.0.0" ? "127.0.0.1" : _options.BindAddress)}:{port}/healthz");
        switch (await ServerReadiness.WaitAsync(http, url, r => r.IsSuccessStatusCode, () => HasExited, timeout, TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false))
        {
            case ReadinessOutcome.Exited:
                await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false); // its last lines read, for the message
                throw new InvalidOperationException($"the operator exited with code {ExitCode} before {url} answered: {Output}");
            case ReadinessOutcome.TimedOut:
                throw new TimeoutException($"the operator's {url} did not answer 200 within {timeout}: {Output}");
        }
    }

    /// <summary>Waits for it to exit on its own (e.g. a refused flag, or after SIGTERM); returns the exit code. All its output has been read by then.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <summary>Sends SIGTERM without waiting, as the kubelet stops a pod.</summary>
    public void SendSigTerm() => Sigterm.Send(_process.Id, "the operator");

    /// <summary>SIGTERM, then a kill after <see cref="OperatorProcessOptions.StopTimeout"/>; returns the exit code (137 when it had to be killed).</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            SendSigTerm();
        }

        using var timeout = new CancellationTokenSource(_options.StopTimeout);
        try
        {
            return await WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
            await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            return 137;
        }
    }

    /// <summary>Kills it at once (a crash, not a shutdown).</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // exited meanwhile
        }
    }

    /// <summary>Its peak resident memory (VmHWM) in MB while it runs; NaN once it has gone.</summary>
    public double PeakResidentMegabytes()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
                }
            }
        }
        catch (IOException)
        {
            // gone
        }

        return double.NaN;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        finally
        {
            _process.Dispose();
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"gru-operator pid {_process.Id}";

    private static IEnumerable<string> Flags(OperatorProcessOptions options, int healthPort)
    {
        if (options.Kubeconfig is not null)
        {
            yield return "--kubeconfig";
            yield return options.Kubeconfig;
        }

        if (options.Namespaces is not null)
        {
            yield return "--namespaces";
            yield return options.Namespaces;
        }

        yield return "--leader-elect";
        yield return options.LeaderElection ? "true" : "false";
        yield return "--bind-address";
        yield return options.BindAddress;
        yield return "--metrics-port";
        yield return options.MetricsPort.ToString(CultureInfo.InvariantCulture);
        yield return "--health-port";
        yield return healthPort.ToString(CultureInfo.InvariantCulture);
        if (options.PrometheusAddress is not null)
        {
            yield return "--prometheus-address";
            yield return options.PrometheusAddress.ToString().TrimEnd('/');
        }
    }

    private void Receive(string? line, ProcessLog stream)
    {
        if (line is null)
        {
            return;
        }

        stream.Append(line);
        _log.Append(line);
        _options.OutputLine?.Invoke(line);
    }
}
