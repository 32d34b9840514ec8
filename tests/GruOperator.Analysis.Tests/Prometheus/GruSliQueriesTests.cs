using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;
using GruOperator.Providers.Prometheus;

namespace GruOperator.Analysis.Tests.Prometheus;

public sealed class GruSliQueriesTests
{
    private static readonly GruSliQueries Queries = new(new PrometheusOptions().SeriesSelector);
    private static readonly TrackSelector Canary = new("ml", "session-recs", Track.Canary, "4");
    private const string Selector = "namespace=\"ml\",model=\"session-recs\",track=\"canary\",revision=\"4\"";

    public static TheoryData<Sli, string[]> Rendered => new()
    {
        { Sli.RequestCount, [$"gru_requests_total{{{Selector}}}[150s]"] },
        { Sli.ErrorRate, [$"gru_requests_total{{{Selector}}}[150s]"] },
        { Sli.LatencyP95, [$"gru_request_duration_seconds_bucket{{{Selector}}}[150s]"] },
        { Sli.InputSchemaErrorRate, [$"gru_input_schema_errors_total{{{Selector}}}[150s]", $"gru_requests_total{{{Selector}}}[150s]"] },
    };

    [Theory]
    [MemberData(nameof(Rendered))]
    public void Built_in_SLIs_read_the_raw_samples_of_one_track_and_revision(Sli sli, string[] expected)
    {
        // No increase(), rate() or histogram_quantile(): the provider counts requests from the stored samples.
        Assert.Equal(expected, Queries.Templates(sli).Select(t => PromQlTemplate.Render(t, Canary, TimeSpan.FromSeconds(150))));
    }

    [Theory]
    [InlineData("avg(gru_output_mean_sum{model=\"{{model}}\",track=\"{{track}}\"})", null)]
    [InlineData("avg(gru_output_mean_sum{model={{model}}})", "must be inside a quoted label value")]
    [InlineData("up{pod=\"{{pod}}\"}", "unknown placeholder {{pod}}")]
    public void Spec_validation_can_check_custom_queries_up_front(string template, string? problem)
    {
        var found = PromQlTemplateValidation.Problem(template);

        if (problem is null)
        {
            Assert.Null(found);
        }
        else
        {
            Assert.Contains(problem, found, StringComparison.Ordinal);
        }
    }
}
