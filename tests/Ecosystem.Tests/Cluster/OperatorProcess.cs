using System.Diagnostics;
using System.Text;
using TestSupport;

namespace Ecosystem.Tests.Cluster;

/// <summary>
/// The built operator (gru-operator.dll) run as its own process against a kubeconfig, as `make run` does: no leader
/// election, metrics and health on free ports. Killed on dispose; its output is kept for assertion messages.
/// </summary>
internal sealed class OperatorProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private OperatorProcess(Process process, int metricsPort)
    {
        _process = process;
        MetricsPort = metricsPort;
    }

    /// <summary>Port of the operator's /metrics on 127.0.0.1.</summary>
    public int MetricsPort { get; }

    /// <summary>What the operator wrote so far.</summary>
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    public static OperatorProcess Start(string kubeconfig)
    {
        var metricsPort = FreePort.Next();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            BuildOutput.Locate("src/GruOperator", "gru-operator.dll"), "--kubeconfig", kubeconfig, "--leader-elect", "false", "--bind-address", "127.0.0.1",
            "--metrics-port", metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--health-port", FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the operator");
        var op = new OperatorProcess(process, metricsPort);
        process.OutputDataReceived += (_, e) => op.Append(e.Data);
        process.ErrorDataReceived += (_, e) => op.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return op;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }
}
