using System.Net;
using System.Text.Json;
using GruServer.Tests.Support;
using TestSupport;

namespace GruServer.Tests.Server;

/// <summary>The model file's sha256 is checked before loading: a mismatch is never served.</summary>
public sealed class DigestTests
{
    [Fact]
    public async Task MismatchedDigestIsNeverServedAndSaysWhyInReadinessLogAndMetrics()
    {
        var model = await GruTestModels.WriteAsync();
        var pinned = new string('a', 64);
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = model.Path, ModelName = "pinned", ModelSha256 = "sha256:" + pinned, WaitForReady = false,
        });
        using var http = new HttpClient { BaseAddress = server.BaseUrl };

        await Eventually.TrueAsync(() => Task.FromResult(server.Output.Contains("Model digest mismatch", StringComparison.Ordinal)), "the mismatch log line");
        using var ready = await http.GetAsync("v2/health/ready");
        using var modelReady = await http.GetAsync("v2/models/pinned/ready");
        using var metadata = await http.GetAsync("v2/models/pinned");
        using var content = new StringContent(GruTestModels.InferRequestJson(model.Spec), System.Text.Encoding.UTF8, "application/json");
        using var infer = await http.PostAsync("v2/models/pinned/infer", content);
        var metrics = await MetricsScrape.FetchAsync(http, server.MetricsUrl);

        Assert.Equal(HttpStatusCode.BadRequest, ready.StatusCode);
        Assert.Contains($"has sha256:{model.Sha256} but --model-sha256 pins sha256:{pinned}", await modelReady.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, metadata.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, infer.StatusCode);
        Assert.Contains("is not ready", JsonDocument.Parse(await infer.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains($"file has sha256:{model.Sha256}, expected sha256:{pinned}", server.Output, StringComparison.Ordinal);
        Assert.Equal(1, metrics.Value("gru_model_digest_mismatch", ("model", "pinned")));
        Assert.Equal(0, metrics.Value("gru_model_ready", ("model", "pinned")));
        Assert.Empty(metrics.Find("gru_model_info"));
        Assert.Equal(1, metrics.Value("gru_requests_total", ("code", "503"), ("source", "live")));
    }

    [Theory]
    [InlineData("sha256:")]
    [InlineData("")]
    public async Task MatchingDigestIsServedWithOrWithoutPrefix(string prefix)
    {
        var model = await GruTestModels.WriteAsync();
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = model.Path, ModelName = "pinned", ModelSha256 = prefix + model.Sha256,
        });
        using var http = new HttpClient { BaseAddress = server.BaseUrl };

        var metadata = JsonDocument.Parse(await http.GetStringAsync("v2/models/pinned")).RootElement;
        var metrics = await MetricsScrape.FetchAsync(http, server.MetricsUrl);

        Assert.Equal("sha256:" + model.Sha256, metadata.GetProperty("parameters").GetProperty("digest").GetString());
        Assert.Contains("matches --model-sha256", server.Output, StringComparison.Ordinal);
        Assert.Equal(0, metrics.Value("gru_model_digest_mismatch", ("model", "pinned")));
        Assert.Equal(1, metrics.Value("gru_model_ready", ("model", "pinned")));
    }
}
