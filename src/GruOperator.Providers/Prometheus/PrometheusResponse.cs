using System.Globalization;
using System.Text.Json;

namespace GruOperator.Providers.Prometheus;

/// <summary>Why a Prometheus call failed, so callers and logs can tell outages from bad queries.</summary>
internal enum PrometheusErrorKind
{
    /// <summary>Connection refused, DNS failure, TLS failure.</summary>
    Unreachable,

    /// <summary>No answer within the configured timeouts.</summary>
    Timeout,

    /// <summary>Prometheus refused the PromQL (errorType bad_data: syntax, unknown function).</summary>
    BadQuery,

    /// <summary>Prometheus answered <c>status: error</c> for another reason (execution, timeout, canceled…).</summary>
    QueryFailed,

    /// <summary>An HTTP error without a Prometheus error body (proxy 5xx, 401, 404…).</summary>
    HttpError,

    /// <summary>A 2xx answer that is not Prometheus API JSON, or a result of the wrong shape.</summary>
    BadResponse,

    /// <summary>The configured credentials could not be read (e.g. a missing token file).</summary>
    Credentials,
}

/// <summary>A failed Prometheus call; the message is one line fit for <c>status</c> and names the query.</summary>
internal sealed class PrometheusException(PrometheusErrorKind kind, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public PrometheusErrorKind Kind { get; } = kind;
}

/// <summary>One sample: a time and a value that may be NaN or ±Inf.</summary>
internal readonly record struct PrometheusSample(DateTimeOffset Time, double Value);

/// <summary>One labelled series of an instant vector (one sample) or a range matrix (many).</summary>
internal sealed record PrometheusSeries(IReadOnlyDictionary<string, string> Labels, IReadOnlyList<PrometheusSample> Samples);

/// <summary>A successful answer of <c>/api/v1/query</c> or <c>/api/v1/query_range</c>.</summary>
internal sealed record PrometheusResult(string ResultType, IReadOnlyList<PrometheusSeries> Series, IReadOnlyList<string> Warnings);

/// <summary>Parses the Prometheus HTTP API envelope (https://prometheus.io/docs/prometheus/latest/querying/api/).</summary>
internal static class PrometheusResponseParser
{
    /// <summary>Parses a body, turning every error shape into a <see cref="PrometheusException"/> that names the query.</summary>
    public static PrometheusResult Parse(int statusCode, string body, string query) =>
        Parse(statusCode, System.Text.Encoding.UTF8.GetBytes(body), query);

    /// <summary>Parses a body read as bytes (through the client's size limit).</summary>
    public static PrometheusResult Parse(int statusCode, ReadOnlyMemory<byte> body, string query)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            throw NotApiJson(statusCode, body, query);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("status", out var status) || status.ValueKind != JsonValueKind.String)
            {
                throw NotApiJson(statusCode, body, query);
            }

            if (status.GetString() == "error")
            {
                var errorType = root.TryGetProperty("errorType", out var t) ? t.GetString() : "unknown";
                var error = root.TryGetProperty("error", out var e) ? e.GetString() : "(no message)";
                var kind = errorType == "bad_data" ? PrometheusErrorKind.BadQuery : PrometheusErrorKind.QueryFailed;
                throw new PrometheusException(kind, $"Prometheus answered HTTP {statusCode} {OneLine(errorType, 40)}: {OneLine(error, 300)} (query: {query})");
            }

            if (statusCode is < 200 or > 299)
            {
                throw NotApiJson(statusCode, body, query);
            }

            try
            {
                return ParseData(root, query);
            }
            catch (Exception ex) when (ex is InvalidOperationException or KeyNotFoundException or FormatException or IndexOutOfRangeException)
            {
                throw new PrometheusException(PrometheusErrorKind.BadResponse,
                    $"Prometheus answer has an unexpected shape ({ex.Message}) (query: {query})", ex);
            }
        }
    }

    /// <summary>Parses a sample value; Prometheus writes NaN, +Inf and -Inf as strings.</summary>
    public static double ParseValue(string text) => text switch
    {
        "NaN" => double.NaN,
        "+Inf" or "Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    private static PrometheusResult ParseData(JsonElement root, string query)
    {
        var warnings = new List<string>();
        if (root.TryGetProperty("warnings", out var w) && w.ValueKind == JsonValueKind.Array)
        {
            warnings.AddRange(w.EnumerateArray().Select(x => x.GetString() ?? string.Empty));
        }

        var data = root.GetProperty("data");
        var resultType = data.GetProperty("resultType").GetString() ?? string.Empty;
        var result = data.GetProperty("result");
        var series = new List<PrometheusSeries>();
        switch (resultType)
        {
            case "vector":
                foreach (var item in result.EnumerateArray())
                {
                    series.Add(new PrometheusSeries(Labels(item), [Sample(item.GetProperty("value"))]));
                }

                break;
            case "matrix":
                foreach (var item in result.EnumerateArray())
                {
                    series.Add(new PrometheusSeries(Labels(item), item.GetProperty("values").EnumerateArray().Select(Sample).ToArray()));
                }

                break;
            case "scalar":
                series.Add(new PrometheusSeries(new Dictionary<string, string>(), [Sample(result)]));
                break;
            default:
                throw new PrometheusException(PrometheusErrorKind.BadResponse,
                    $"query returned a {resultType} result where a number was expected (query: {query})");
        }

        return new PrometheusResult(resultType, series, warnings);
    }

    private static Dictionary<string, string> Labels(JsonElement item) =>
        item.TryGetProperty("metric", out var metric)
            ? metric.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? string.Empty, StringComparer.Ordinal)
            : new Dictionary<string, string>(StringComparer.Ordinal);

    private static PrometheusSample Sample(JsonElement pair) =>
        new(DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(pair[0].GetDouble() * 1000)), ParseValue(pair[1].GetString() ?? "NaN"));

    // The body itself is never quoted: whatever an address answers must not travel into a GruModel's status (the
    // operator would otherwise be a reader of any URL for whoever can set spec.prometheus.address).
    private static PrometheusException NotApiJson(int statusCode, ReadOnlyMemory<byte> body, string query)
    {
        var kind = statusCode is >= 200 and <= 299 ? PrometheusErrorKind.BadResponse : PrometheusErrorKind.HttpError;
        return new PrometheusException(kind,
            $"Prometheus answered HTTP {statusCode} with {body.Length} bytes that are not Prometheus API JSON; check that the address is Prometheus' HTTP API (query: {query})");
    }

    /// <summary>One line of at most <paramref name="max"/> characters of a field Prometheus wrote.</summary>
    private static string OneLine(string? text, int max)
    {
        var line = (text ?? "").ReplaceLineEndings(" ");
        line = new string(line.Select(c => char.IsControl(c) ? ' ' : c).ToArray());
        return line.Length > max ? line[..max] + "…" : line;
    }
}
