using System.Net;
using System.Text;
using System.Text.Json;
using TestSupport;

namespace GruServer.Tests.Server;

/// <summary>The real server process end to end: readiness, metadata, infer and the metrics it exports.</summary>
public sealed class ServingTests
{
    [Fact]
    public async Task ServesTheModelAndExportsMetricsWithContractNames()
    {
        var model = await GruTestModels.WriteAsync();
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions { ModelPath = model.Path, ModelName = "small", Revision = "7", Track = "canary" });
        using var http = new HttpClient { BaseAddress = server.BaseUrl };

        var body = GruTestModels.InferRequestJson(model.Spec, batch: 2, steps: 3, id: "req-1");
        using var response = await http.PostAsync("v2/models/small/infer", new StringContent(body, Encoding.UTF8, "application/json"));
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("req-1", json.GetProperty("id").GetString());
        var output = json.GetProperty("outputs").EnumerateArray().Single(o => o.GetProperty("name").GetString() == "output");
        Assert.Equal([2, 2], output.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));

        var metrics = await http.GetStringAsync(server.MetricsUrl);
        const string labels = "model=\"small\",revision=\"7\",track=\"canary\"";
        // Labels come sorted: source (live, not mirrored shadow traffic) sits between revision and track.
        const string live = "model=\"small\",revision=\"7\",source=\"live\",track=\"canary\"";
        Assert.Contains($"gru_requests_total{{code=\"200\",{live}}} 1", metrics);
        Assert.Contains($"gru_request_duration_seconds_count{{{live}}} 1", metrics);
        Assert.Contains($"gru_output_mean_count{{{labels}}} 1", metrics);
        Assert.Contains($"gru_model_info{{digest=\"sha256:{model.Sha256}\",execution_provider=\"CPU\",{labels}}} 1", metrics);
        Assert.Contains($"gru_fault_injection_active{{kind=\"latency\",{labels}}} 0", metrics);
        Assert.Contains("gru_input_schema_errors_total{", metrics);
    }
}
