using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using GruServer.Tests.Support;

namespace GruServer.Tests.Protocol;

/// <summary>The Open Inference Protocol's binary tensor extension against the real server: a JSON part whose length is
/// in Inference-Header-Content-Length, then raw little-endian tensor bytes, for requests and responses; malformed
/// headers and lengths get a 400 that says what is wrong; raw data goes through the same validation as JSON.</summary>
public sealed class BinaryTensorTests(SmallModelServer fixture) : IClassFixture<SmallModelServer>
{
    private const string HeaderLength = "Inference-Header-Content-Length";
    private static readonly float[] Sequence = [.. Enumerable.Range(0, 2 * 3 * 4).Select(i => (float)Math.Sin(i))];

    [Fact]
    public async Task BinaryInputsAndOutputsEqualJson()
    {
        var jsonRequest = $$"""{"inputs":[{"name":"input","shape":[2,3,4],"datatype":"FP32","data":[{{string.Join(",", Sequence.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}}]},{"name":"sequence_lengths","shape":[2],"datatype":"INT32","data":[3,2]}]}""";
        var (status, json) = await fixture.InferAsync(jsonRequest);
        Assert.Equal(200, status);

        var header = """{"inputs":[{"name":"input","shape":[2,3,4],"datatype":"FP32","parameters":{"binary_data_size":96}},{"name":"sequence_lengths","shape":[2],"datatype":"INT32","parameters":{"binary_data_size":8}}],"parameters":{"binary_data_output":true}}""";
        using var response = await PostAsync(header, [.. Bytes(Sequence), .. Bytes(new[] { 3, 2 })]);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsByteArrayAsync();
        var jsonLength = int.Parse(response.Headers.GetValues(HeaderLength).Single(), CultureInfo.InvariantCulture);
        var answer = JsonDocument.Parse(body.AsMemory(0, jsonLength)).RootElement;
        var offset = jsonLength;
        foreach (var output in answer.GetProperty("outputs").EnumerateArray())
        {
            Assert.False(output.TryGetProperty("data", out _));
            var size = output.GetProperty("parameters").GetProperty("binary_data_size").GetInt32();
            var values = MemoryMarshal.Cast<byte, float>(body.AsSpan(offset, size)).ToArray();
            offset += size;
            var expected = json.GetProperty("outputs").EnumerateArray().Single(o => o.GetProperty("name").GetString() == output.GetProperty("name").GetString());
            Assert.Equal(expected.GetProperty("shape").ToString(), output.GetProperty("shape").ToString());
            Assert.Equal(expected.GetProperty("data").EnumerateArray().Select(d => d.GetSingle()), values);
        }

        Assert.Equal(body.Length, offset);
    }

    [Fact]
    public async Task OutputsAskedForBinaryComeRawAndTheRestAsJson()
    {
        var header = """{"inputs":[{"name":"input","shape":[2,3,4],"datatype":"FP32","parameters":{"binary_data_size":96}},{"name":"sequence_lengths","shape":[2],"datatype":"INT32","data":[3,3]}],"outputs":[{"name":"output","parameters":{"binary_data":true}},{"name":"hidden"}]}""";
        using var response = await PostAsync(header, Bytes(Sequence), contentType: "application/json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsByteArrayAsync();
        var jsonLength = int.Parse(response.Headers.GetValues(HeaderLength).Single(), CultureInfo.InvariantCulture);
        var outputs = JsonDocument.Parse(body.AsMemory(0, jsonLength)).RootElement.GetProperty("outputs").EnumerateArray().ToList();
        Assert.Equal(2 * 2 * sizeof(float), outputs[0].GetProperty("parameters").GetProperty("binary_data_size").GetInt32());
        Assert.Equal(2 * 8, outputs[1].GetProperty("data").GetArrayLength());
        Assert.Equal(jsonLength + 16, body.Length);
    }

    public static TheoryData<string, string?, string, byte[], string, string> Malformed => new()
    {
        { "header not a number", "abc", Input(96), Bytes(Sequence), "invalid_request", "Inference-Header-Content-Length is 'abc'; it must be one whole number of bytes" },
        { "header negative", "-5", Input(96), Bytes(Sequence), "invalid_request", "Inference-Header-Content-Length is '-5'" },
        { "header beyond the body", "100000", Input(96), Bytes(Sequence), "invalid_request", "but the body has only" },
        { "header cuts the JSON", "20", Input(96), Bytes(Sequence), "malformed_json", "not valid JSON" },
        { "size beyond the bytes", null, Input(200), Bytes(Sequence), "invalid_request", "binary_data_size 200 but only 96 bytes of binary data remain" },
        { "bytes left over", null, Input(96), [.. Bytes(Sequence), 1, 2, 3, 4], "invalid_request", "4 bytes of binary tensor data after the JSON that no input claims" },
        { "not whole elements", null, Input(95), Bytes(Sequence)[..95], "data_length_mismatch", "95 bytes of binary data, which is not a whole number of FP32 elements" },
        { "count vs shape", null, Input(92), Bytes(Sequence)[..92], "data_length_mismatch", "input 'input' has 23 data elements but shape [2, 3, 4] needs 24" },
        { "NaN in raw data", null, Input(96), Bytes([float.NaN, .. Sequence[1..]]), "non_finite", "input 'input' data[0] is NaN" },
        { "negative size", null, Input(96).Replace("96", "-1", StringComparison.Ordinal), Bytes(Sequence), "invalid_request", "binary_data_size -1; it must be a whole number of bytes" },
        { "data and binary", null, Input(96).Replace("\"parameters\"", "\"data\":[1],\"parameters\"", StringComparison.Ordinal), Bytes(Sequence), "invalid_request", "has both 'data' and binary_data_size" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task MalformedBinaryRequestsGetAClear400(string scenario, string? headerValue, string header, byte[] data, string reason, string errorText)
    {
        var before = await fixture.ScrapeAsync();
        using var response = await PostAsync(header, data, headerValue: headerValue);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString();

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{scenario}: {(int)response.StatusCode} {error}");
        Assert.Contains(errorText, error, StringComparison.Ordinal);
        var after = await fixture.ScrapeAsync();
        Assert.Equal(1, after.Value("gru_input_schema_errors_total", ("reason", reason)) - before.Value("gru_input_schema_errors_total", ("reason", reason)));
    }

    [Fact]
    public async Task BinaryDataWithoutTheHeaderIsRefused()
    {
        var (status, body) = await fixture.InferAsync(Input(96));

        Assert.Equal(400, status);
        Assert.Contains("has no Inference-Header-Content-Length header", body.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OctetStreamNeedsTheHeader()
    {
        var (status, body) = await fixture.InferAsync(Input(96), contentType: "application/octet-stream");

        Assert.Equal(415, status);
        Assert.Contains("Inference-Header-Content-Length", body.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerMetadataListsTheExtension()
    {
        var json = JsonDocument.Parse(await fixture.Http.GetStringAsync("v2")).RootElement;

        Assert.Contains("binary_tensor_data", json.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));
    }

    private static string Input(int size) =>
        $$$"""{"inputs":[{"name":"input","shape":[2,3,4],"datatype":"FP32","parameters":{"binary_data_size":{{{size}}}}},{"name":"sequence_lengths","shape":[2],"datatype":"INT32","data":[3,3]}]}""";

    private static byte[] Bytes<T>(T[] values)
        where T : struct => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    private async Task<HttpResponseMessage> PostAsync(string header, byte[] data, string? headerValue = null, string contentType = "application/octet-stream")
    {
        var json = Encoding.UTF8.GetBytes(header);
        using var content = new ByteArrayContent([.. json, .. data]);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v2/models/{SmallModelServer.Name}/infer") { Content = content };
        request.Headers.TryAddWithoutValidation(HeaderLength, headerValue ?? json.Length.ToString(CultureInfo.InvariantCulture));
        return await fixture.Http.SendAsync(request);
    }
}
