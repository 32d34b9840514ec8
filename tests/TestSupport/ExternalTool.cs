using System.Diagnostics;

namespace TestSupport;

/// <summary>The result of running an external tool to completion.</summary>
public sealed record ToolRun(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Both streams, for assertion messages.</summary>
    public string Output => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>
/// A real binary the tests run (lua5.1, promtool): found in /usr/bin or on PATH, or a failure with one plain message
/// naming the package to install. Never a skip: a missing tool must not turn into a green run.
/// </summary>
public sealed class ExternalTool
{
    private readonly string _path;

    private ExternalTool(string path) => _path = path;

    /// <summary>lua5.1 from Debian's lua5.1 package: Argo CD runs health checks on gopher-lua, a Lua 5.1.</summary>
    public static ExternalTool Lua => Find("lua5.1", "lua5.1");

    /// <summary>promtool from Debian's prometheus package.</summary>
    public static ExternalTool Promtool => Find("promtool", "prometheus");

    /// <summary>The dotnet host, to run built tools (kubectl-gru.dll) as their own processes.</summary>
    public static ExternalTool Dotnet => Find("dotnet", "the .NET SDK");

    /// <summary>bash, to run a command line exactly as the docs write it.</summary>
    public static ExternalTool Bash => Find("bash", "bash");

    /// <summary>kubectl (1.32 on these machines) from PATH.</summary>
    public static ExternalTool Kubectl => Find("kubectl", "kubectl");

    /// <summary>Runs the tool with <paramref name="arguments"/> in <paramref name="workingDirectory"/> and waits for it (2 minutes unless <paramref name="timeout"/> says otherwise).</summary>
    public async Task<ToolRun> RunAsync(
        IEnumerable<string> arguments, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null,
        string? stdin = null, CancellationToken cancellationToken = default, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromMinutes(2);
        var start = new ProcessStartInfo(_path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        start.RedirectStandardInput = stdin is not null;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {_path}");
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin.AsMemory(), cancellationToken);
            process.StandardInput.Close();
        }

        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{_path} {string.Join(' ', start.ArgumentList)} did not finish within {limit.TotalMinutes:0.#} minutes");
        }

        return new ToolRun(process.ExitCode, await stdout, await stderr);
    }

    private static ExternalTool Find(string name, string package)
    {
        var path = new[] { Path.Combine("/usr/bin", name) }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(dir => Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists);
        return path is null
            ? throw new InvalidOperationException($"{name} is not installed; run `bash tests/deps.sh` (apt-get install {package})")
            : new ExternalTool(path);
    }
}
