using System.Diagnostics;
using System.Text;

namespace LocalServers;

/// <summary>The first 64 KB (or <c>capacity</c> characters) of what a child process writes to stdout and stderr, for assertion messages.</summary>
public sealed class ProcessLog(int capacity = 64_000)
{
    private readonly StringBuilder _log = new();

    /// <summary>Starts reading <paramref name="process"/>'s redirected stdout and stderr into this log.</summary>
    public void Attach(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        lock (_log)
        {
            return _log.ToString();
        }
    }

    /// <summary>Adds one line (null, the end of a stream, is ignored).</summary>
    public void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            if (_log.Length < capacity)
            {
                _log.AppendLine(line);
            }
        }
    }
}

/// <summary>Finds a binary that a Debian package installs (tests fail, never skip, when it is missing).</summary>
public static class InstalledBinary
{
    /// <summary>/usr/bin/<paramref name="name"/> or the first one on PATH; else an error naming the package to install.</summary>
    public static string Find(string name, string package) =>
        new[] { $"/usr/bin/{name}" }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(dir => Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"the {name} binary is not installed; run `make deps` (it runs apt-get install {package})");
}
