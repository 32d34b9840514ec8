using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using k8s;
using k8s.Models;

namespace Kube.Local.Tests.Hosting;

/// <summary>How the cluster is reached: HTTPS or plain HTTP, the kubeconfig it writes, and the `make cluster` program.</summary>
public sealed class HostingTests
{
    [Fact]
    public async Task Plain_HTTP_serves_the_same_API_when_asked_for()
    {
        await using var cluster = await LocalCluster.StartAsync(new LocalClusterOptions { UseHttps = false });
        Assert.Equal("http", cluster.Url.Scheme);
        Assert.Null(cluster.CertificateAuthorityPem);
        using var client = new Kubernetes(cluster.ClientConfiguration);
        Assert.Contains((await client.CoreV1.ListNamespaceAsync()).Items, n => n.Metadata.Name == "kube-system");
    }

    [Fact]
    public async Task The_written_kubeconfig_works_for_KubernetesClient_with_TLS_verified()
    {
        await using var cluster = await LocalCluster.StartAsync();
        var dir = Directory.CreateTempSubdirectory("lc-kubeconfig-");
        try
        {
            var path = cluster.WriteKubeconfig(Path.Combine(dir.FullName, "nested", "kubeconfig"));
            var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(path);
            Assert.False(config.SkipTlsVerify);
            using var client = new Kubernetes(config);
            var created = await client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "via-kubeconfig" } }, "default");
            Assert.Equal("via-kubeconfig", created.Metadata.Name);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static Process StartProgram(string args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "LocalCluster.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args.Split(' ', StringSplitOptions.RemoveEmptyEntries)) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    [Fact]
    public async Task The_program_serves_until_SIGTERM_and_prints_where_its_kubeconfig_is()
    {
        var dir = Directory.CreateTempSubdirectory("lc-program-");
        var kubeconfig = Path.Combine(dir.FullName, "kubeconfig");
        var port = FreePort();
        using var process = StartProgram($"--port {port} --kubeconfig {kubeconfig} --deployment-controller false");
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var banner = new List<string>();
            while (await process.StandardOutput.ReadLineAsync(cts.Token) is { } line)
            {
                banner.Add(line);
                if (line.StartsWith("Press Ctrl-C", StringComparison.Ordinal)) break;
            }
            Assert.Contains($"LocalCluster serving at https://127.0.0.1:{port}/", banner);
            Assert.Contains(banner, l => l.Contains(kubeconfig, StringComparison.Ordinal));
            Assert.Contains(banner, l => l.Contains("deployment controller: off", StringComparison.Ordinal));

            using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
            Assert.NotEmpty((await client.CoreV1.ListNamespaceAsync(cancellationToken: cts.Token)).Items);

            using (var kill = Process.Start("kill", $"-TERM {process.Id}")) await kill.WaitForExitAsync(cts.Token);
            await process.WaitForExitAsync(cts.Token);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_taken_port_ends_the_program_with_exit_1_and_says_which_flag_to_change()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var dir = Directory.CreateTempSubdirectory("lc-program-");
        using var process = StartProgram($"--port {port} --kubeconfig {Path.Combine(dir.FullName, "kubeconfig")}");
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var stderr = process.StandardError.ReadToEndAsync(cts.Token);
            await process.WaitForExitAsync(cts.Token);
            Assert.Equal(1, process.ExitCode);
            Assert.Contains($"cannot listen on 127.0.0.1:{port}", await stderr);
            Assert.Contains("--port", await stderr);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            dir.Delete(recursive: true);
        }
    }
}
