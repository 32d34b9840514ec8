using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;
using GruOperator.Providers.Prometheus;

namespace GruOperator.Analysis.Tests.Prometheus;

public sealed class PromQlTemplateTests
{
    private static readonly TrackSelector Canary = new("ml", "session-recs", Track.Canary, "4");

    public static TheoryData<string, string, string> Renderings => new()
    {
        { "all label placeholders", "up{namespace=\"{{namespace}}\",model=\"{{model}}\",track=\"{{track}}\",revision=\"{{revision}}\"}",
            "up{namespace=\"ml\",model=\"session-recs\",track=\"canary\",revision=\"4\"}" },
        { "spaces inside braces", "up{model=\"{{ model }}\"}", "up{model=\"session-recs\"}" },
        { "single quotes", "up{model='{{model}}'}", "up{model='session-recs'}" },
        { "window outside quotes", "rate(x{model=\"{{model}}\"}[{{window}}])", "rate(x{model=\"session-recs\"}[30s])" },
        { "escaped quote keeps the string open", "x{a=\"\\\"{{model}}\"}", "x{a=\"\\\"session-recs\"}" },
    };

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Renders(string scenario, string template, string expected)
    {
        Assert.True(expected == PromQlTemplate.Render(template, Canary, TimeSpan.FromSeconds(30)), scenario);
    }

    public static TheoryData<string, char, string> Escapes => new()
    {
        { "x\"} or vector(1) or up{a=\"", '"', "x\\\"} or vector(1) or up{a=\\\"" },
        { "back\\slash", '"', "back\\\\slash" },
        { "it's", '\'', "it\\'s" },
        { "it's", '"', "it's" },
        { "say \"hi\"", '\'', "say \"hi\"" },
        { "line\nbreak\ttab\r", '"', "line\\nbreak\\ttab\\r" },
        { "bell\u0007", '"', "bell\\u0007" },
        { "ünïcode-名前", '"', "ünïcode-名前" },
    };

    [Theory]
    [MemberData(nameof(Escapes))]
    public void Escapes_label_values_for_their_quote(string value, char quote, string expected)
    {
        Assert.Equal(expected, PromQlTemplate.EscapeLabelValue(value, quote));
    }

    [Fact]
    public void A_hostile_model_name_stays_inside_its_string()
    {
        var hostile = Canary with { Model = "x\"} or vector(1) or up{a=\"" };

        var query = PromQlTemplate.Render("sum(up{model=\"{{model}}\"})", hostile, TimeSpan.FromSeconds(5));

        Assert.Equal("sum(up{model=\"x\\\"} or vector(1) or up{a=\\\"\"})", query);
    }

    public static TheoryData<string, string> Refusals => new()
    {
        { "up{model={{model}}}", "must be inside a quoted label value" },
        { "{{model}}", "must be inside a quoted label value" },
        { "up{model=`{{model}}`}", "raw" },
        { "up{model=\"{{pod}}\"}", "unknown placeholder {{pod}}" },
        { "label_replace(up, \"a\", \"{{}}\", \"b\", \"\")", "unknown placeholder {{}}" },
        { "up{model=\"{{model\"}", "unclosed" },
        { "rate(x[\"{{window}}\"])", "belongs outside quotes" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Refuses_unsafe_templates_with_the_fix(string template, string message)
    {
        var error = Assert.Throws<PromQlTemplateException>(() => PromQlTemplate.Render(template, Canary, TimeSpan.FromSeconds(5)));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains(template, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(30_000, "30s")]
    [InlineData(300_000, "300s")]
    [InlineData(1_500, "1500ms")]
    [InlineData(250, "250ms")]
    public void Formats_durations_for_PromQL(int milliseconds, string expected)
    {
        Assert.Equal(expected, PromQlTemplate.Duration(TimeSpan.FromMilliseconds(milliseconds)));
    }
}
