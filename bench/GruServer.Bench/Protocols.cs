using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Net.Client;
using GruOnnx.Models;
using GruServer.Protocol.Grpc.V2;
using TestSupport;

namespace GruServer.Bench;

/// <summary>One way of sending the same batch-1 infer request to a real GruServer: HTTP/JSON, HTTP with the binary
/// tensor extension, or gRPC with raw contents. Each call sends one request and reads the whole answer.</summary>
internal abstract class ProtocolRunner : IDisposable
{
    public abstract string Name { get; }

    public abstract Task InferAsync();

    public abstract void Dispose();

    public static IReadOnlyList<ProtocolRunner> All(GruServerProcess server, BenchCase benchCase, string jsonBody, HttpClient? shared = null) =>
    [
        new JsonRunner(server, jsonBody, shared),
        new BinaryRunner(server, benchCase, jsonBody, shared),
        new GrpcRunner(server, benchCase, jsonBody),
    ];

    /// <summary>The request's input values and lengths, decoded from the JSON body once.</summary>
    protected static (float[] X, int[]? Lengths) Values(string jsonBody)
    {
        var inputs = JsonDocument.Parse(jsonBody).RootElement.GetProperty("inputs");
        float[] x = [.. inputs[0].GetProperty("data").EnumerateArray().Select(v => v.GetSingle())];
        int[]? lengths = inputs.GetArrayLength() > 1 ? [.. inputs[1].GetProperty("data").EnumerateArray().Select(v => v.GetInt32())] : null;
        return (x, lengths);
    }

    protected static long[] Shape(BenchCase benchCase, int batch = 1) =>
        benchCase.Spec.TimeMajor ? [benchCase.Steps, batch, benchCase.Spec.InputSize] : [batch, benchCase.Steps, benchCase.Spec.InputSize];

    private sealed class JsonRunner(GruServerProcess server, string body, HttpClient? shared) : ProtocolRunner
    {
        private readonly HttpClient _http = shared ?? new HttpClient { BaseAddress = server.BaseUrl };
        private readonly byte[] _payload = Encoding.UTF8.GetBytes(body);

        public override string Name => "HTTP/JSON";

        public override async Task InferAsync()
        {
            using var content = new ByteArrayContent(_payload);
            content.Headers.ContentType = new("application/json");
            using var response = await _http.PostAsync("v2/models/bench/infer", content);
            await response.Content.ReadAsByteArrayAsync();
            response.EnsureSuccessStatusCode();
        }

        public override void Dispose()
        {
            if (shared is null)
            {
                _http.Dispose();
            }
        }
    }

    private sealed class BinaryRunner : ProtocolRunner
    {
        private readonly HttpClient _http;
        private readonly bool _owned;
        private readonly byte[] _payload;
        private readonly string _headerLength;

        public BinaryRunner(GruServerProcess server, BenchCase benchCase, string jsonBody, HttpClient? shared)
        {
            _owned = shared is null;
            _http = shared ?? new HttpClient { BaseAddress = server.BaseUrl };
            var (x, lengths) = Values(jsonBody);
            var header = new StringBuilder().Append(CultureInfo.InvariantCulture,
                $"{{\"inputs\":[{{\"name\":\"{GruModelNames.Input}\",\"shape\":[{string.Join(",", Shape(benchCase))}],\"datatype\":\"FP32\",\"parameters\":{{\"binary_data_size\":{x.Length * 4}}}}}");
            if (lengths is not null)
            {
                header.Append(CultureInfo.InvariantCulture, $",{{\"name\":\"{GruModelNames.SequenceLengths}\",\"shape\":[1],\"datatype\":\"INT32\",\"parameters\":{{\"binary_data_size\":4}}}}");
            }

            var json = Encoding.UTF8.GetBytes(header.Append("],\"parameters\":{\"binary_data_output\":true}}").ToString());
            _headerLength = json.Length.ToString(CultureInfo.InvariantCulture);
            _payload = [.. json, .. MemoryMarshal.AsBytes(x.AsSpan()), .. lengths is null ? [] : MemoryMarshal.AsBytes(lengths.AsSpan()).ToArray()];
        }

        public override string Name => "HTTP/binary";

        public override async Task InferAsync()
        {
            using var content = new ByteArrayContent(_payload);
            content.Headers.ContentType = new("application/octet-stream");
            using var request = new HttpRequestMessage(HttpMethod.Post, "v2/models/bench/infer") { Content = content };
            request.Headers.TryAddWithoutValidation("Inference-Header-Content-Length", _headerLength);
            using var response = await _http.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            response.EnsureSuccessStatusCode();
        }

        public override void Dispose()
        {
            if (_owned)
            {
                _http.Dispose();
            }
        }
    }

    /// <summary>The transport alone: a request that does no inference (GET /v2/health/live, gRPC ServerLive) on the
    /// same kept-alive connection, so the report can say how much of a protocol's time is loopback and framing.</summary>
    public static IReadOnlyList<ProtocolRunner> Floors(GruServerProcess server, HttpClient? shared = null) =>
    [
        HttpNoOp(server, shared),
        new GrpcLiveRunner(server),
    ];

    /// <summary>GET /v2/health/live: an HTTP request that does no inference.</summary>
    public static ProtocolRunner HttpNoOp(GruServerProcess server, HttpClient? shared = null) => new HttpLiveRunner(server, shared);

    private sealed class HttpLiveRunner(GruServerProcess server, HttpClient? shared) : ProtocolRunner
    {
        private readonly HttpClient _http = shared ?? new HttpClient { BaseAddress = server.BaseUrl };

        public override string Name => "HTTP no-op";

        public override async Task InferAsync()
        {
            using var response = await _http.GetAsync("v2/health/live");
            await response.Content.ReadAsByteArrayAsync();
            response.EnsureSuccessStatusCode();
        }

        public override void Dispose()
        {
            if (shared is null)
            {
                _http.Dispose();
            }
        }
    }

    private sealed class GrpcLiveRunner(GruServerProcess server) : ProtocolRunner
    {
        private readonly GrpcChannel _channel = GrpcChannel.ForAddress(server.GrpcUrl);

        public override string Name => "gRPC no-op";

        public override async Task InferAsync() => await new GRPCInferenceService.GRPCInferenceServiceClient(_channel).ServerLiveAsync(new ServerLiveRequest());

        public override void Dispose() => _channel.Dispose();
    }

    private sealed class GrpcRunner : ProtocolRunner
    {
        private readonly GrpcChannel _channel;
        private readonly GRPCInferenceService.GRPCInferenceServiceClient _client;
        private readonly ModelInferRequest _request;

        public GrpcRunner(GruServerProcess server, BenchCase benchCase, string jsonBody)
        {
            _channel = GrpcChannel.ForAddress(server.GrpcUrl);
            _client = new GRPCInferenceService.GRPCInferenceServiceClient(_channel);
            var (x, lengths) = Values(jsonBody);
            _request = new ModelInferRequest { ModelName = "bench" };
            _request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = GruModelNames.Input, Datatype = "FP32", Shape = { Shape(benchCase) } });
            _request.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(x.AsSpan())));
            if (lengths is not null)
            {
                _request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = GruModelNames.SequenceLengths, Datatype = "INT32", Shape = { 1 } });
                _request.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(lengths.AsSpan())));
            }
        }

        public override string Name => "gRPC";

        public override async Task InferAsync() => await _client.ModelInferAsync(_request);

        public override void Dispose() => _channel.Dispose();
    }
}
