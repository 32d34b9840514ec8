using System.Net.Sockets;
using System.Text;
using GruServer.Tests.Support;

namespace GruServer.Tests.Protocol;

/// <summary>Every validation rule against the real server: the status, the error text naming the input and what
/// was expected, and the <c>gru_input_schema_errors_total{reason}</c> series it counts in.</summary>
public sealed class ValidationTests(SmallModelServer fixture) : IClassFixture<SmallModelServer>
{
    private static readonly string EightValues = "[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]";

    public static TheoryData<string, string, string?, int, string, string> Rules => new()
    {
        { "unknown input", Request(Input(), Lengths(), Input(name: "bogus")), "application/json", 400, "unknown_input", "input 'bogus' is not an input of this model; expected 'input' FP32 [batch, time, 4]" },
        { "missing input", Request(Input()), "application/json", 400, "missing_input", "input 'sequence_lengths' is missing; the model expects INT32 [batch]" },
        { "duplicate input", Request(Input(), Lengths(), Lengths()), "application/json", 400, "duplicate_input", "input 'sequence_lengths' appears more than once" },
        { "wrong datatype", Request(Input(datatype: "INT32", data: "[1,2,3,4,5,6,7,8]"), Lengths()), "application/json", 400, "datatype_mismatch", "input 'input' has datatype INT32; the model expects FP32" },
        { "unsupported datatype", Request(Input(datatype: "FP16"), Lengths()), "application/json", 400, "datatype_mismatch", "input 'input' has datatype 'FP16', which this server does not accept; the model expects FP32" },
        { "wrong rank", Request(Input(shape: "[2,4]"), Lengths()), "application/json", 400, "shape_mismatch", "input 'input' has shape [2, 4] (rank 2); the model expects [batch, time, 4] (rank 3)" },
        { "wrong feature size", Request(Input(shape: "[1,4,2]"), Lengths()), "application/json", 400, "shape_mismatch", "dimension 2 must be 4" },
        { "batch sizes disagree", Request(Input(), Lengths(shape: "[2]", data: "[2,2]")), "application/json", 400, "shape_mismatch", "input 'sequence_lengths' has batch=2 but input 'input' has batch=1; they must agree" },
        { "data length vs shape", Request(Input(data: "[1,2,3]"), Lengths()), "application/json", 400, "data_length_mismatch", "input 'input' has 3 data elements but shape [1, 2, 4] needs 8" },
        { "sequence too long", Request(Input(shape: "[1,17,4]", data: Floats(68)), Lengths(data: "[17]")), "application/json", 400, "sequence_too_long", "input 'input' has sequence length 17 (dimension 1); this server accepts at most 16 steps (--max-sequence-length)" },
        { "batch too large", Request(Input(shape: "[5,1,4]", data: Floats(20)), Lengths(shape: "[5]", data: "[1,1,1,1,1]")), "application/json", 400, "batch_too_large", "input 'input' has batch size 5 (dimension 0); this server accepts at most 4 per request (--max-request-batch-size)" },
        { "NaN as a string", Request(Input(data: "[1,2,3,4,5,6,7,\"NaN\"]"), Lengths()), "application/json", 400, "non_finite", "input 'input' data[7] is NaN; FP32 inputs must be finite numbers" },
        { "bare NaN token", Request(Input(data: "[1,2,3,4,5,6,7,NaN]"), Lengths()), "application/json", 400, "non_finite", "the request contains NaN or Infinity" },
        { "Infinity as a string", Request(Input(data: "[1,2,3,4,5,6,7,\"-Infinity\"]"), Lengths()), "application/json", 400, "non_finite", "input 'input' data[7] is -Infinity" },
        { "FP32 overflow", Request(Input(data: "[1,2,3,4,5,6,7,1e39]"), Lengths()), "application/json", 400, "non_finite", "input 'input' data[7] is 1e39 (outside the FP32 range)" },
        { "ragged sequences", Request(Input(data: "[[[1,2,3,4]],[[1,2]]]", shape: "[2,1,4]"), Lengths(shape: "[2]", data: "[1,1]")), "application/json", 400, "ragged_data", "input 'input' data has 2 entries at nesting level 2 where shape [2, 1, 4] says 4" },
        { "nested rows of unequal length", Request(Input(data: "[[[1,2,3,4],[5,6,7]]]"), Lengths()), "application/json", 400, "ragged_data", "input 'input' data has 3 entries at nesting level 2 where shape [1, 2, 4] says 4" },
        { "numbers mixed with arrays", Request(Input(data: "[1,[2,3],4,5,6,7,8,9]"), Lengths()), "application/json", 400, "ragged_data", "input 'input' data mixes numbers and nested arrays" },
        { "text where a number belongs", Request(Input(data: "[1,2,3,4,5,6,7,\"eight\"]"), Lengths()), "application/json", 400, "invalid_value", "input 'input' data[7] is \"eight\"; expected a FP32 number" },
        { "fraction for an INT32 input", Request(Input(), Lengths(data: "[1.5]")), "application/json", 400, "invalid_value", "input 'sequence_lengths' data[0] is 1.5; expected a whole number that fits INT32" },
        { "sequence length zero", Request(Input(), Lengths(data: "[0]")), "application/json", 400, "sequence_length_out_of_range", "input 'sequence_lengths'[0] is 0; each sequence length must be between 1 and the time axis of 'input' (2, dimension 1)" },
        { "sequence length beyond time axis", Request(Input(), Lengths(data: "[3]")), "application/json", 400, "sequence_length_out_of_range", "input 'sequence_lengths'[0] is 3" },
        { "unknown requested output", Request(Input(), Lengths()).Replace("]}", "],\"outputs\":[{\"name\":\"logits\"}]}", StringComparison.Ordinal), "application/json", 400, "unknown_output", "output 'logits' is not an output of this model; expected one of: output, hidden" },
        { "no inputs array", "{\"id\":\"x\"}", "application/json", 400, "invalid_request", "the request needs an 'inputs' array" },
        { "input without data", "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,2,4],\"datatype\":\"FP32\"}]}", "application/json", 400, "invalid_request", "input 'input' needs a 'data' array" },
        { "negative dimension", Request(Input(shape: "[1,-2,4]"), Lengths()), "application/json", 400, "shape_mismatch", "input 'input' shape[1] is -2; dimensions must be non-negative integers" },
        { "malformed JSON", "{\"inputs\": [ {\"name\": \"input\",, } ]}", "application/json", 400, "malformed_json", "the request body is not valid JSON (line 1" },
        { "truncated JSON", Request(Input(), Lengths())[..40], "application/json", 400, "malformed_json", "the request body is not valid JSON" },
        { "empty body", "", "application/json", 400, "malformed_json", "the request body is empty" },
        { "JSON that is not an object", "[1,2,3]", "application/json", 400, "invalid_request", "the request must be a JSON object" },
        { "wrong content type", Request(Input(), Lengths()), "text/plain", 415, "unsupported_content_type", "Content-Type 'text/plain' is not supported; send the request as JSON with 'Content-Type: application/json'" },
        { "form content type", "a=b", "application/x-www-form-urlencoded", 415, "unsupported_content_type", "is not supported" },
        { "oversized body", Request(Input(shape: "[1,2,4]", data: "[" + string.Join(",", Enumerable.Repeat("0.123456789", 12_000)) + "]"), Lengths()), "application/json", 400, "body_too_large", "the request body exceeds 100000 bytes (--max-request-bytes)" },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public async Task RejectsInvalidRequestsWithAnErrorNamingTheProblem(string scenario, string body, string? contentType, int status, string reason, string errorText)
    {
        var before = await fixture.ScrapeAsync();

        var (actualStatus, json) = await fixture.InferAsync(body, contentType);

        Assert.True(status == actualStatus, $"{scenario}: expected HTTP {status}, got {actualStatus}: {json}");
        var error = json.GetProperty("error").GetString();
        Assert.Contains(errorText, error, StringComparison.Ordinal);
        var after = await fixture.ScrapeAsync();
        Assert.Equal(1, Delta(before, after, "gru_input_schema_errors_total", ("reason", reason)));
        Assert.Equal(1, Delta(before, after, "gru_requests_total", ("code", status.ToString(System.Globalization.CultureInfo.InvariantCulture))));
    }

    [Fact]
    public async Task AcceptsDataNestedExactlyLikeTheShape()
    {
        var (status, json) = await fixture.InferAsync(Request(Input(data: "[[[1,2,3,4],[5,6,7,8]]]"), Lengths()));

        Assert.Equal(200, status);
        Assert.Equal(2, json.GetProperty("outputs")[0].GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task ABodyCutShortByTheClientIsCountedAndTheServerKeepsServing()
    {
        var before = await fixture.ScrapeAsync();
        using (var client = new TcpClient())
        {
            await client.ConnectAsync("127.0.0.1", fixture.Server.Port);
            var stream = client.GetStream();
            var head = $"POST /v2/models/{SmallModelServer.Name}/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{{\"inputs\":[";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            client.Client.Shutdown(SocketShutdown.Send);
            using var reader = new StreamReader(stream);
            // The client hung up mid-body, so the server may just close (or reset) the connection; never a 5xx or a hang.
            string response;
            try
            {
                response = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (IOException)
            {
                response = ""; // reset by the server: also just a closed connection
            }

            Assert.True(response.Length == 0 || response.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), $"response: [{response}]");
        }

        await Eventually.TrueAsync(async () =>
            Delta(before, await fixture.ScrapeAsync(), "gru_input_schema_errors_total", ("reason", "truncated_body")) == 1,
            "truncated_body counted once");
        var (status, _) = await fixture.InferAsync(Request(Input(), Lengths()));
        Assert.Equal(200, status);
    }

    private static double Delta(MetricsScrape before, MetricsScrape after, string name, (string, string) label) =>
        after.Find(name, label).Sum(s => s.Value) - before.Find(name, label).Sum(s => s.Value);

    private static string Floats(int count) => "[" + string.Join(",", Enumerable.Range(0, count).Select(i => (i % 7 * 0.1).ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

    private static string Input(string name = "input", string datatype = "FP32", string shape = "[1,2,4]", string? data = null) =>
        $"{{\"name\":\"{name}\",\"shape\":{shape},\"datatype\":\"{datatype}\",\"data\":{data ?? EightValues}}}";

    private static string Lengths(string shape = "[1]", string data = "[2]") =>
        $"{{\"name\":\"sequence_lengths\",\"shape\":{shape},\"datatype\":\"INT32\",\"data\":{data}}}";

    private static string Request(params string[] inputs) => $"{{\"inputs\":[{string.Join(",", inputs)}]}}";
}
