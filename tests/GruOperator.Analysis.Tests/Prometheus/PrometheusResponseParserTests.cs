using GruOperator.Providers.Prometheus;

namespace GruOperator.Analysis.Tests.Prometheus;

public sealed class PrometheusResponseParserTests
{
    private const string Query = "sum(rate(x[5s]))";

    private static string Vector(params string[] values) =>
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[" +
        string.Join(",", values.Select((v, i) => $"{{\"metric\":{{\"pod\":\"p{i}\"}},\"value\":[1700000000.5,\"{v}\"]}}")) + "]}}";

    public static TheoryData<string, double?> InstantValues => new()
    {
        { Vector("0.25"), 0.25 },
        { Vector("0"), 0 },
        { Vector("1e-3"), 0.001 },
        { Vector("NaN"), null },
        { Vector("+Inf"), null },
        { Vector("-Inf"), null },
        { Vector(), null },
        { "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1700000000,\"42\"]}}", 42 },
    };

    [Theory]
    [MemberData(nameof(InstantValues))]
    public void Reads_one_value_and_treats_NaN_Inf_and_empty_as_no_data(string body, double? expected)
    {
        var result = PrometheusResponseParser.Parse(200, body, Query);

        Assert.Equal(expected, PrometheusMetricProvider.SingleValue(result, Query));
    }

    [Fact]
    public void Several_series_where_one_was_expected_is_an_error_naming_the_query()
    {
        var result = PrometheusResponseParser.Parse(200, Vector("1", "2", "3"), Query);

        var error = Assert.Throws<PrometheusException>(() => PrometheusMetricProvider.SingleValue(result, Query));

        Assert.Contains("returned 3 series where one was expected", error.Message, StringComparison.Ordinal);
        Assert.Contains("pod=\"p0\"", error.Message, StringComparison.Ordinal);
        Assert.Contains(Query, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Range_results_keep_their_raw_samples_and_warnings()
    {
        const string body = "{\"status\":\"success\",\"warnings\":[\"w1\"],\"data\":{\"resultType\":\"matrix\",\"result\":[" +
            "{\"metric\":{},\"values\":[[1,\"0.1\"],[2,\"NaN\"],[3,\"0.3\"],[4,\"+Inf\"]]}]}}";

        var result = PrometheusResponseParser.Parse(200, body, Query);

        Assert.Equal([1, 2, 3, 4], result.Series.Single().Samples.Select(p => p.Time.ToUnixTimeSeconds()));
        Assert.True(double.IsNaN(result.Series[0].Samples[1].Value)); // CounterIncrease skips it
        Assert.Equal(["w1"], result.Warnings);
        Assert.Throws<PrometheusException>(() => PrometheusMetricProvider.SingleValue(result, Query));
    }

    public static TheoryData<int, string, string, string> Errors => new()
    {
        { 400, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"1:5: parse error: unexpected <by>\"}", nameof(PrometheusErrorKind.BadQuery), "bad_data: 1:5: parse error" },
        { 422, "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":\"many-to-many matching not allowed\"}", nameof(PrometheusErrorKind.QueryFailed), "execution: many-to-many" },
        { 503, "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"query timed out\"}", nameof(PrometheusErrorKind.QueryFailed), "HTTP 503 timeout" },
        { 502, "<html>Bad Gateway</html>", nameof(PrometheusErrorKind.HttpError), "HTTP 502 with 24 bytes that are not Prometheus API JSON" },
        { 200, "not json at all", nameof(PrometheusErrorKind.BadResponse), "not Prometheus API JSON" },
        { 200, "{\"status\":\"success\"}", nameof(PrometheusErrorKind.BadResponse), "unexpected shape" },
        { 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1,\"abc\"]}]}}", nameof(PrometheusErrorKind.BadResponse), "unexpected shape" },
        { 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[1,\"abc\"]}}", nameof(PrometheusErrorKind.BadResponse), "string result" },
        { 200, "[]", nameof(PrometheusErrorKind.BadResponse), "not Prometheus API JSON" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void Turns_every_error_shape_into_one_clear_line(int status, string body, string kind, string message)
    {
        var error = Assert.Throws<PrometheusException>(() => PrometheusResponseParser.Parse(status, body, Query));

        Assert.Equal(kind, error.Kind.ToString());
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains(Query, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }
}
