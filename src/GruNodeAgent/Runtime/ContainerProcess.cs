using System.Diagnostics;

namespace GruNodeAgent.Runtime;

/// <summary>What to execute for one container: the argv, its whole environment and its working directory.</summary>
internal sealed record LaunchSpec(IReadOnlyList<string> Argv, IReadOnlyDictionary<string, string> Environment, string WorkingDirectory);

/// <summary>
/// One run of a container as a local process in its own session and process group (started through setsid), with
/// stdout and stderr appended to its log file. Exits report 128+signal for a signalled process, as container runtimes do.
/// </summary>
internal sealed class ContainerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Lock _logLock = new();
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ContainerProcess(Process process, StreamWriter log)
    {
        _process = process;
        _log = log;
    }

    /// <summary>The main process's id (also its process group's).</summary>
    public int Pid { get; private set; }

    /// <summary>Completes with the exit code once the process and everything else in its group is gone.</summary>
    public Task<int> Exited => _exited.Task;

    public static ContainerProcess Start(LaunchSpec spec, string logPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var start = new ProcessStartInfo("setsid")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = spec.WorkingDirectory,
        };
        foreach (var arg in spec.Argv) start.ArgumentList.Add(arg);
        start.Environment.Clear();
        foreach (var (key, value) in spec.Environment) start.Environment[key] = value;

        var log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var container = new ContainerProcess(process, log);
        process.OutputDataReceived += (_, e) => container.Write(e.Data);
        process.ErrorDataReceived += (_, e) => container.Write(e.Data);
        process.Exited += (_, _) => container.OnExited();
        try
        {
            process.Start();
        }
        catch
        {
            log.Dispose();
            process.Dispose();
            throw;
        }

        container.Pid = process.Id;
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return container;
    }

    /// <summary>SIGTERM to the main process.</summary>
    public void Terminate()
    {
        if (!_exited.Task.IsCompleted) Signals.Terminate(Pid);
    }

    /// <summary>SIGKILL to the process group.</summary>
    public void Kill() => Signals.KillGroup(Pid);

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        lock (_logLock) _log.Dispose();
    }

    private void OnExited()
    {
        // The main process is gone: its children go with it, as in a container, so the log pipes reach end of file.
        Signals.KillGroup(Pid);
        _ = Task.Run(async () =>
        {
            using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _process.WaitForExitAsync(drain.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // A grandchild that left the group still holds the pipe: report the exit anyway.
            }

            _exited.TrySetResult(_process.ExitCode);
        });
    }

    private void Write(string? line)
    {
        if (line is null) return;
        lock (_logLock)
        {
            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // Output after the container was disposed is dropped.
            }
        }
    }
}
