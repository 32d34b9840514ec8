using System.Diagnostics;
using System.Text;

namespace TestSupport.ControlPlane;

/// <summary>One control-plane binary running as a child process, with the tail of its log kept for error messages.</summary>
internal sealed class ControlPlaneProcess : IAsyncDisposable
{
    private const int LogLimit = 64_000;
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private ControlPlaneProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    public int Id => _process.Id;

    public int ExitCode => _process.ExitCode;

    /// <summary>The last part of what the process wrote to stdout and stderr.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static ControlPlaneProcess Start(string binary, IEnumerable<string> arguments, string workingDirectory)
    {
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {binary}");
        var child = new ControlPlaneProcess(Path.GetFileName(binary), process);
        process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        process.OutputDataReceived += (_, e) => child.Append(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return child;
    }

    /// <summary>Kills the process and its children, and waits until it has exited.</summary>
    public async Task StopAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // exited between the check and the kill
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            // Keep the tail: the lines before a crash matter more than the start-up chatter.
            if (_log.Length > LogLimit)
            {
                _log.Remove(0, _log.Length - (LogLimit / 2));
            }

            _log.AppendLine(line);
        }
    }
}
