using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using GruServer.Protocol.Grpc.V2;
using GruServer.Tests.Support;

namespace GruServer.Tests.Protocol;

/// <summary>The v2 gRPC protocol (inference.GRPCInferenceService) against the real server with a real gRPC client
/// (Grpc.Net.Client over HTTP/2 on --grpc-port): health, metadata, and infer with raw and typed contents giving what
/// HTTP/JSON gives; errors as gRPC status codes with the same messages as HTTP.</summary>
public sealed class GrpcProtocolTests(SmallModelServer fixture) : IClassFixture<SmallModelServer>, IDisposable
{
    private static readonly float[] Sequence = [.. Enumerable.Range(0, 2 * 3 * 4).Select(i => (float)Math.Cos(i))];
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(fixture.Server.GrpcUrl);

    private GRPCInferenceService.GRPCInferenceServiceClient Client => new(_channel);

    [Fact]
    public async Task HealthAndMetadataAnswer()
    {
        Assert.True((await Client.ServerLiveAsync(new ServerLiveRequest())).Live);
        Assert.True((await Client.ServerReadyAsync(new ServerReadyRequest())).Ready);
        Assert.True((await Client.ModelReadyAsync(new ModelReadyRequest { Name = SmallModelServer.Name, Version = "3" })).Ready);
        var server = await Client.ServerMetadataAsync(new ServerMetadataRequest());
        Assert.Equal("gru-server", server.Name);
        Assert.Contains("binary_tensor_data", server.Extensions);

        var model = await Client.ModelMetadataAsync(new ModelMetadataRequest { Name = SmallModelServer.Name });
        Assert.Equal(["3"], model.Versions);
        Assert.Equal(["input", "sequence_lengths"], model.Inputs.Select(i => i.Name));
        Assert.Equal([-1L, -1L, 4L], model.Inputs[0].Shape);
        Assert.Equal(["output", "hidden"], model.Outputs.Select(o => o.Name));
    }

    [Fact]
    public async Task RawAndTypedContentsInferWhatHttpJsonInfers()
    {
        var json = $$"""{"inputs":[{"name":"input","shape":[2,3,4],"datatype":"FP32","data":[{{string.Join(",", Sequence.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}}]},{"name":"sequence_lengths","shape":[2],"datatype":"INT32","data":[3,1]}]}""";
        var (status, http) = await fixture.InferAsync(json);
        Assert.Equal(200, status);

        var raw = Request("r1");
        raw.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(Sequence.AsSpan())));
        raw.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(new[] { 3, 1 }.AsSpan())));
        var typed = Request("t1");
        typed.Inputs[0].Contents = new InferTensorContents { Fp32Contents = { Sequence } };
        typed.Inputs[1].Contents = new InferTensorContents { IntContents = { 3, 1 } };

        foreach (var (request, id) in new[] { (raw, "r1"), (typed, "t1") })
        {
            var response = await Client.ModelInferAsync(request);
            Assert.Equal(id, response.Id);
            Assert.Equal("3", response.ModelVersion);
            Assert.Equal(response.Outputs.Count, response.RawOutputContents.Count);
            for (var o = 0; o < response.Outputs.Count; o++)
            {
                var expected = http.GetProperty("outputs").EnumerateArray().Single(e => e.GetProperty("name").GetString() == response.Outputs[o].Name);
                Assert.Equal(expected.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()), response.Outputs[o].Shape);
                Assert.Equal(expected.GetProperty("data").EnumerateArray().Select(d => d.GetSingle()),
                    MemoryMarshal.Cast<byte, float>(response.RawOutputContents[o].Span).ToArray());
            }
        }
    }

    [Fact]
    public async Task ErrorsAreStatusCodesWithTheValidatorsMessages()
    {
        var nan = Request();
        nan.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(((float[])[float.NaN, .. Sequence[1..]]).AsSpan())));
        nan.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(new[] { 3, 3 }.AsSpan())));
        var missing = Request();
        missing.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(Sequence.AsSpan())));
        var tooLong = Request();
        tooLong.Inputs[1].Contents = new InferTensorContents { IntContents = { 3, 4 } };
        tooLong.Inputs[0].Contents = new InferTensorContents { Fp32Contents = { Sequence } };

        var before = await fixture.ScrapeAsync();
        await AssertStatus(nan, StatusCode.InvalidArgument, "input 'input' data[0] is NaN");
        await AssertStatus(missing, StatusCode.InvalidArgument, "raw_input_contents has 1 entries but the request has 2 inputs");
        await AssertStatus(tooLong, StatusCode.InvalidArgument, "input 'sequence_lengths'[1] is 4");
        await AssertStatus(Request(model: "other"), StatusCode.NotFound, "model 'other' is not served here");
        await AssertStatus(Request(version: "9"), StatusCode.NotFound, "version '9' is not served here");
        var after = await fixture.ScrapeAsync();
        Assert.Equal(1, after.Value("gru_input_schema_errors_total", ("reason", "non_finite")) - before.Value("gru_input_schema_errors_total", ("reason", "non_finite")));
        Assert.Equal(3, after.Value("gru_requests_total", ("code", "400"), ("source", "live")) - before.Value("gru_requests_total", ("code", "400"), ("source", "live")));
    }

    public void Dispose() => _channel.Dispose();

    private async Task AssertStatus(ModelInferRequest request, StatusCode code, string message)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.ModelInferAsync(request).ResponseAsync);
        Assert.Equal(code, error.StatusCode);
        Assert.Contains(message, error.Status.Detail, StringComparison.Ordinal);
    }

    private static ModelInferRequest Request(string id = "", string model = SmallModelServer.Name, string version = "") => new()
    {
        ModelName = model,
        ModelVersion = version,
        Id = id,
        Inputs =
        {
            new ModelInferRequest.Types.InferInputTensor { Name = "input", Datatype = "FP32", Shape = { 2, 3, 4 } },
            new ModelInferRequest.Types.InferInputTensor { Name = "sequence_lengths", Datatype = "INT32", Shape = { 2 } },
        },
    };
}
