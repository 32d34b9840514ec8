using System.Text;
using GruServer.Tests.Support;
using TestSupport;

namespace GruServer.Tests.Server;

/// <summary>SIGTERM: stop taking new requests, finish in-flight ones, exit 0.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task SigtermFinishesTheInFlightRequestThenExitsCleanly()
    {
        var model = await GruTestModels.WriteAsync();
        // The injected latency keeps a request in flight long enough to send SIGTERM during it.
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions { ModelPath = model.Path, FaultLatency = "3s" });
        using var http = new HttpClient { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };

        using var content = new StringContent(GruTestModels.InferRequestJson(model.Spec, id: "in-flight"), Encoding.UTF8, "application/json");
        var inFlight = http.PostAsync("v2/models/gru/infer", content);
        await Eventually.TrueAsync(async () =>
            (await MetricsScrape.FetchAsync(http, server.MetricsUrl)).Value("gru_requests_in_flight") == 1, "the request to be in flight");

        server.SendSigTerm();
        using var response = await inFlight;
        var exitCode = await server.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"id\":\"in-flight\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, exitCode);
        Assert.Contains("Shutdown requested: readiness is now false", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AfterSigtermTheListenerClosesWhileTheInFlightRequestStillRuns()
    {
        var model = await GruTestModels.WriteAsync();
        // Long enough that the listener must have closed well before the in-flight request can finish.
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions { ModelPath = model.Path, FaultLatency = "10s" });
        using var http = new HttpClient { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        using var content = new StringContent(GruTestModels.InferRequestJson(model.Spec), Encoding.UTF8, "application/json");
        var inFlight = http.PostAsync("v2/models/gru/infer", content);
        await Eventually.TrueAsync(async () =>
            (await MetricsScrape.FetchAsync(http, server.MetricsUrl)).Value("gru_requests_in_flight") == 1, "the request to be in flight");

        server.SendSigTerm();
        await Eventually.TrueAsync(() => Task.FromResult(server.Output.Contains("Shutdown requested", StringComparison.Ordinal)), "the shutdown to start");
        // Until the listener closes, a fresh connection may still race in, but readiness must already say no.
        await Eventually.TrueAsync(() => RefusedOrNotReadyAsync(server.BaseUrl), "new connections to be refused");

        Assert.False(inFlight.IsCompleted, "new connections were still accepted until the in-flight request finished");
        using var response = await inFlight;
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(60)));
    }

    /// <summary>True when a fresh connection is refused; false (after checking readiness is not OK) when it is accepted.</summary>
    private static async Task<bool> RefusedOrNotReadyAsync(Uri baseUrl)
    {
        using var fresh = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
        fresh.DefaultRequestHeaders.ConnectionClose = true;
        try
        {
            using var ready = await fresh.GetAsync("v2/health/ready");
            Assert.NotEqual(System.Net.HttpStatusCode.OK, ready.StatusCode);
            return false;
        }
        catch (HttpRequestException e) when (e.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused })
        {
            return true;
        }
        catch (HttpRequestException)
        {
            // Accepted, then closed as the listener shut down: not served, but not the refusal we wait for yet.
            return false;
        }
    }

    [Fact]
    public async Task WithAShutdownDelayNewRequestsAreStillServedWhileReadinessIsFalse()
    {
        var model = await GruTestModels.WriteAsync();
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = model.Path, ExtraArguments = ["--shutdown-delay", "20s"],
        });
        using var http = new HttpClient { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };

        server.SendSigTerm();
        await Eventually.TrueAsync(async () =>
        {
            using var ready = await http.GetAsync("v2/health/ready");
            return ready.StatusCode == System.Net.HttpStatusCode.BadRequest;
        }, "readiness to drop");
        using var content = new StringContent(GruTestModels.InferRequestJson(model.Spec, id: "during-drain"), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("v2/models/gru/infer", content);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("still serving for 20s (--shutdown-delay)", server.Output, StringComparison.Ordinal);
        Assert.False(server.HasExited);
        // A second signal ends the drain at once.
        server.SendSigTerm();
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(15)));
    }
}
