using System.Diagnostics;

namespace GruDemo.Stack;

/// <summary>
/// A program the demo runs as its own process (gru-model; the operator is an OperatorProcess) with stdout and stderr appended to a log file;
/// disposing kills it and everything it started.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private ChildProcess(Process process, StreamWriter log, string logPath)
    {
        _process = process;
        _log = log;
        LogPath = logPath;
    }

    /// <summary>Where its output goes.</summary>
    public string LogPath { get; }

    /// <summary>True once it has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Its exit code (after <see cref="HasExited"/>).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>The dotnet host running built tools, as `dotnet x.dll` does.</summary>
    public static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>Starts <paramref name="file"/> with <paramref name="arguments"/>, its output appended to <paramref name="logPath"/>.</summary>
    public static ChildProcess Start(string file, IEnumerable<string> arguments, string logPath)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // The demo's cluster and registry only: nothing from the caller's environment points the child elsewhere.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("GRU_", StringComparison.Ordinal) || k == "KUBECONFIG").ToList()) start.Environment.Remove(key);
        start.Environment["DOCKER_CONFIG"] = Path.Combine(Path.GetDirectoryName(logPath)!, "docker-config");
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var process = new Process { StartInfo = start };
        var child = new ChildProcess(process, log, logPath);
        process.OutputDataReceived += (_, e) => child.Append(e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Runs it to the end; returns its output, or throws with the output when it fails.</summary>
    public static async Task<string> RunAsync(string file, IEnumerable<string> arguments, string logPath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var startedAt = new FileInfo(logPath) is { Exists: true } f ? f.Length : 0;
        await using var child = Start(file, arguments, logPath);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await child._process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{Path.GetFileName(arguments.FirstOrDefault() ?? file)} did not finish within {timeout.TotalSeconds:0}s (log: {logPath})");
        }

        child._process.WaitForExit(); // the output events are drained
        var output = child.ReadLogFrom(startedAt);
        return child.ExitCode == 0 ? output : throw new InvalidOperationException($"{string.Join(' ', arguments.Take(2))} exited with {child.ExitCode}:\n{output}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // exited meanwhile
            }

            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(wait.Token);
        }

        _process.Dispose();
        lock (_log) _log.Dispose();
    }

    private string ReadLogFrom(long offset)
    {
        lock (_log) _log.Flush();
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(offset, SeekOrigin.Begin);
        return new StreamReader(stream).ReadToEnd();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_log)
        {
            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}
