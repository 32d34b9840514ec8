using System.Diagnostics;
using System.Net;
using k8s;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Faults;

/// <summary>Fault injection: failing requests with chosen codes, and latency.</summary>
public sealed class FaultInjectionTests
{
    [Theory]
    [InlineData(500, "InternalError")]
    [InlineData(429, "TooManyRequests")]
    [InlineData(409, "Conflict")]
    public async Task FailNext_answers_the_next_requests_with_the_code_then_recovers(int code, string reason)
    {
        await using var cluster = await LocalCluster.StartAsync();
        using var client = new Kubernetes(cluster.ClientConfiguration);
        cluster.Faults.FailNext(2, code);
        var status = await Errors.StatusAsync(() => client.CoreV1.ListNamespaceAsync(), (HttpStatusCode)code, reason);
        Assert.Contains("injected fault", status["message"]!.GetValue<string>());
        await Errors.StatusAsync(() => client.CoreV1.ListNamespaceAsync(), (HttpStatusCode)code, reason);
        Assert.Equal(0, cluster.Faults.PendingFailures);
        Assert.NotEmpty((await client.CoreV1.ListNamespaceAsync()).Items);
    }

    [Fact]
    public async Task Latency_delays_every_request()
    {
        await using var cluster = await LocalCluster.StartAsync();
        using var client = new Kubernetes(cluster.ClientConfiguration);
        await client.CoreV1.ListNamespaceAsync();
        cluster.Faults.Latency = TimeSpan.FromMilliseconds(300);
        var sw = Stopwatch.StartNew();
        await client.CoreV1.ListNamespaceAsync();
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(290), $"took {sw.Elapsed}");
    }

    [Fact]
    public async Task Bad_arguments_are_rejected_naming_the_parameter()
    {
        var options = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => LocalCluster.StartAsync(new LocalClusterOptions { WatchHistorySize = 0 }));
        Assert.Equal("WatchHistorySize", options.ParamName);
        await using var cluster = await LocalCluster.StartAsync();
        var code = Assert.Throws<ArgumentOutOfRangeException>(() => cluster.Faults.FailNext(1, 200));
        Assert.Equal("statusCode", code.ParamName);
    }
}
