using System.Net;
using System.Text.Json;
using GruOnnx.Models;
using GruServer.Tests.Support;
using TestSupport;

namespace GruServer.Tests.Protocol;

/// <summary>The Open Inference Protocol endpoints field by field, against the real server.</summary>
public sealed class EndpointTests(SmallModelServer fixture) : IClassFixture<SmallModelServer>
{
    [Theory]
    [InlineData("v2/health/live", "live")]
    [InlineData("v2/health/ready", "ready")]
    [InlineData("v2/models/small/ready", "ready")]
    [InlineData("v2/models/small/versions/3/ready", "ready")]
    public async Task HealthEndpointsAnswerTrue(string path, string property)
    {
        using var response = await fixture.Http.GetAsync(path);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(json.GetProperty(property).GetBoolean());
    }

    [Fact]
    public async Task ServerMetadataNamesTheServer()
    {
        var json = JsonDocument.Parse(await fixture.Http.GetStringAsync("v2")).RootElement;

        Assert.Equal("gru-server", json.GetProperty("name").GetString());
        Assert.False(string.IsNullOrEmpty(json.GetProperty("version").GetString()));
        Assert.Equal(JsonValueKind.Array, json.GetProperty("extensions").ValueKind);
    }

    [Fact]
    public async Task ModelMetadataReportsSignatureDigestProviderRevisionAndTrack()
    {
        var json = JsonDocument.Parse(await fixture.Http.GetStringAsync("v2/models/small")).RootElement;

        Assert.Equal("small", json.GetProperty("name").GetString());
        Assert.Equal(["3"], json.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal("onnxruntime_onnx", json.GetProperty("platform").GetString());
        var inputs = json.GetProperty("inputs").EnumerateArray().ToList();
        Assert.Equal(["input", "sequence_lengths"], inputs.Select(i => i.GetProperty("name").GetString()));
        Assert.Equal(["FP32", "INT32"], inputs.Select(i => i.GetProperty("datatype").GetString()));
        Assert.Equal([-1, -1, 4], inputs[0].GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        var outputs = json.GetProperty("outputs").EnumerateArray().ToList();
        Assert.Equal(["output", "hidden"], outputs.Select(o => o.GetProperty("name").GetString()));
        var parameters = json.GetProperty("parameters");
        Assert.Equal("sha256:" + fixture.Model.Sha256, parameters.GetProperty("digest").GetString());
        Assert.Equal("CPU", parameters.GetProperty("execution_provider").GetString());
        Assert.Equal("3", parameters.GetProperty("revision").GetString());
        Assert.Equal("canary", parameters.GetProperty("track").GetString());
    }

    [Theory]
    [InlineData("GET", "v2/models/other")]
    [InlineData("GET", "v2/models/other/ready")]
    [InlineData("POST", "v2/models/other/infer")]
    [InlineData("GET", "v2/models/small/versions/9")]
    [InlineData("POST", "v2/models/small/versions/9/infer")]
    public async Task UnknownModelOrVersionIs404WithAnErrorBody(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = method == "POST" ? new StringContent(GruTestModels.InferRequestJson(fixture.Spec), System.Text.Encoding.UTF8, "application/json") : null,
        };
        using var response = await fixture.Http.SendAsync(request);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("is not served here", json.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownRouteAnswersWithAProtocolErrorBody()
    {
        using var response = await fixture.Http.GetAsync("v1/models/small:predict");
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("is not an endpoint of this server", json.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task InferEchoesTheIdAndReturnsEveryOutputWithShapeAndDatatype()
    {
        var (status, json) = await fixture.InferAsync(GruTestModels.InferRequestJson(fixture.Spec, batch: 3, steps: 4, id: "abc-123"));

        Assert.Equal(200, status);
        Assert.Equal("abc-123", json.GetProperty("id").GetString());
        Assert.Equal("small", json.GetProperty("model_name").GetString());
        Assert.Equal("3", json.GetProperty("model_version").GetString());
        var outputs = json.GetProperty("outputs").EnumerateArray().ToDictionary(o => o.GetProperty("name").GetString()!);
        Assert.Equal(["output", "hidden"], outputs.Keys);
        Assert.Equal([3, 2], outputs["output"].GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        Assert.Equal(6, outputs["output"].GetProperty("data").GetArrayLength());
        Assert.Equal([3, 8], outputs["hidden"].GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        Assert.All(outputs.Values, o => Assert.Equal("FP32", o.GetProperty("datatype").GetString()));
    }

    [Fact]
    public async Task InferWithoutIdAnswersWithoutId()
    {
        var (status, json) = await fixture.InferAsync(GruTestModels.InferRequestJson(fixture.Spec));

        Assert.Equal(200, status);
        Assert.False(json.TryGetProperty("id", out _));
    }

    [Fact]
    public async Task InferReturnsOnlyTheRequestedOutputs()
    {
        var body = GruTestModels.InferRequestJson(fixture.Spec);
        body = body[..^1] + ",\"outputs\":[{\"name\":\"hidden\"}]}";

        var (status, json) = await fixture.InferAsync(body);

        Assert.Equal(200, status);
        Assert.Equal(["hidden"], json.GetProperty("outputs").EnumerateArray().Select(o => o.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task InputPropertiesMayComeInAnyOrder()
    {
        const string data = "[0.5,-0.25,0.125,1,0,0.75,-1,0.3]";
        var usual = $$"""{"inputs":[{"name":"input","shape":[1,2,4],"datatype":"FP32","data":{{data}}},{"name":"sequence_lengths","shape":[1],"datatype":"INT32","data":[2]}]}""";
        var dataFirst = $$"""{"inputs":[{"data":{{data}},"datatype":"FP32","shape":[1,2,4],"name":"input"},{"data":[2],"name":"sequence_lengths","datatype":"INT32","shape":[1]}]}""";
        var raggedDataFirst = """{"inputs":[{"data":[[[1,2,3,4],[5,6,7]]],"datatype":"FP32","shape":[1,2,4],"name":"input"},{"data":[2],"name":"sequence_lengths","datatype":"INT32","shape":[1]}]}""";

        var (usualStatus, usualJson) = await fixture.InferAsync(usual);
        var (dataFirstStatus, dataFirstJson) = await fixture.InferAsync(dataFirst);
        var (raggedStatus, raggedJson) = await fixture.InferAsync(raggedDataFirst);

        Assert.Equal(200, usualStatus);
        Assert.Equal(200, dataFirstStatus);
        static double[] Values(JsonElement json) =>
            [.. json.GetProperty("outputs").EnumerateArray().SelectMany(o => o.GetProperty("data").EnumerateArray()).Select(v => v.GetDouble())];
        Assert.Equal(Values(usualJson), Values(dataFirstJson), (a, b) => Math.Abs(a - b) < 1e-6);
        Assert.Equal(400, raggedStatus);
        Assert.Contains("has 3 entries at nesting level 2", raggedJson.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task VersionedInferRouteServesTheCurrentRevision()
    {
        var (status, json) = await fixture.InferAsync(GruTestModels.InferRequestJson(fixture.Spec), model: "small/versions/3");

        Assert.Equal(200, status);
        Assert.Equal("3", json.GetProperty("model_version").GetString());
    }

    [Fact]
    public async Task PaddedSequencesInOneRequestMatchEachSequenceServedAlone()
    {
        // Two sequences of lengths 5 and 2 padded to 5 steps in one batch must give exactly what each
        // gives alone: sequence_lengths masks the padding (the classic GRU serving bug when it does not).
        var random = new Random(3);
        var first = Enumerable.Range(0, 5 * 4).Select(_ => Math.Round(random.NextDouble() * 2 - 1, 4)).ToArray();
        var second = Enumerable.Range(0, 2 * 4).Select(_ => Math.Round(random.NextDouble() * 2 - 1, 4)).ToArray();
        var padding = Enumerable.Repeat(7.0, 3 * 4);

        var batched = await OutputsAsync([.. first, .. second, .. padding], batch: 2, steps: 5, lengths: [5, 2]);
        var firstAlone = await OutputsAsync(first, batch: 1, steps: 5, lengths: [5]);
        var secondAlone = await OutputsAsync(second, batch: 1, steps: 2, lengths: [2]);

        var expected = firstAlone.Concat(secondAlone).ToArray();
        Assert.Equal(expected.Length, batched.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - batched[i]) < 1e-5, $"output[{i}]: alone {expected[i]}, batched with padding {batched[i]}");
        }
    }

    private async Task<double[]> OutputsAsync(double[] data, int batch, int steps, int[] lengths)
    {
        var body = $$"""
            {"inputs":[
              {"name":"{{GruModelNames.Input}}","shape":[{{batch}},{{steps}},4],"datatype":"FP32","data":[{{string.Join(",", data.Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}}]},
              {"name":"{{GruModelNames.SequenceLengths}}","shape":[{{batch}}],"datatype":"INT32","data":[{{string.Join(",", lengths)}}]}],
             "outputs":[{"name":"output"}]}
            """;
        var (status, json) = await fixture.InferAsync(body);
        Assert.Equal(200, status);
        return [.. json.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(v => v.GetDouble())];
    }
}
