using System.Diagnostics;
using System.Text;

namespace Kube.Local.Tests.Kubectl;

/// <summary>The result of one kubectl run.</summary>
public sealed record KubectlResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>
/// A LocalCluster with a kubeconfig, and kubectl (1.32, from PATH) run against it. kubectl missing is a test
/// failure with the fix in the message, never a skip: these tests are the proof that real clients work.
/// </summary>
public sealed class KubectlFixture : IAsyncLifetime
{
    private string _dir = "";

    public LocalCluster Cluster { get; private set; } = null!;
    public string Kubeconfig { get; private set; } = "";

    /// <summary>The failure every kubectl test gives when kubectl is missing, CI or not.</summary>
    public const string MissingKubectl = "kubectl 1.32 must be on PATH (it is on these machines; install it with your package manager)";

    public static string? FindKubectl(string? path = null) =>
        (path ?? Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "kubectl"))
            .FirstOrDefault(File.Exists);

    public async Task InitializeAsync()
    {
        Cluster = await LocalCluster.StartAsync();
        _dir = Directory.CreateTempSubdirectory("local-cluster-kubectl-").FullName;
        Kubeconfig = Cluster.WriteKubeconfig(Path.Combine(_dir, "kubeconfig"));
    }

    public async Task<KubectlResult> RunAsync(string args, string? stdin = null, TimeSpan? timeout = null)
    {
        var kubectl = RequireKubectl();
        var psi = new ProcessStartInfo(kubectl)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var a in SplitArgs(args)) psi.ArgumentList.Add(a);
        psi.Environment["KUBECONFIG"] = Kubeconfig;
        psi.Environment["HOME"] = _dir; // keep kubectl's discovery cache per test run
        using var process = Process.Start(psi)!;
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(90));
        var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kubectl {args} did not finish in time");
        }
        return new KubectlResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>kubectl from <paramref name="path"/> (default: this process's PATH), or a test failure saying how to get it.</summary>
    public static string RequireKubectl(string? path = null)
    {
        var kubectl = FindKubectl(path);
        Assert.True(kubectl is not null, MissingKubectl);
        return kubectl;
    }

    /// <summary>Starts a long-running kubectl (get -w); the caller reads its output and kills it.</summary>
    public Process Start(string args)
    {
        var kubectl = RequireKubectl();
        var psi = new ProcessStartInfo(kubectl) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in SplitArgs(args)) psi.ArgumentList.Add(a);
        psi.Environment["KUBECONFIG"] = Kubeconfig;
        psi.Environment["HOME"] = _dir;
        return Process.Start(psi)!;
    }

    /// <summary>Splits on spaces, keeping single-quoted parts together (JSON patches).</summary>
    private static IEnumerable<string> SplitArgs(string args)
    {
        var current = new StringBuilder();
        var quoted = false;
        foreach (var c in args)
        {
            if (c == '\'') { quoted = !quoted; continue; }
            if (c == ' ' && !quoted)
            {
                if (current.Length > 0) yield return current.ToString();
                current.Clear();
                continue;
            }
            current.Append(c);
        }
        if (current.Length > 0) yield return current.ToString();
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort cleanup of a temp directory.
        }
    }
}
