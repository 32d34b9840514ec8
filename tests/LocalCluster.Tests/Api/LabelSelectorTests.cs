using Kube.Local.Api;

namespace Kube.Local.Tests.Api;

/// <summary>The label selector grammar as pure logic.</summary>
public sealed class LabelSelectorTests
{
    private static readonly Dictionary<string, string> Labels = new() { ["app"] = "web", ["env"] = "prod", ["example.com/tier"] = "front" };

    [Theory]
    [InlineData("", true)]
    [InlineData("app=web", true)]
    [InlineData("app = web", true)]
    [InlineData("app==web,env=prod", true)]
    [InlineData("app=db", false)]
    [InlineData("app!=db", true)]
    [InlineData("missing!=x", true)]
    [InlineData("env in (prod, staging)", true)]
    [InlineData("env notin (prod)", false)]
    [InlineData("missing notin (a)", true)]
    [InlineData("example.com/tier", true)]
    [InlineData("!example.com/tier", false)]
    [InlineData("!missing", true)]
    [InlineData("app=web,!env", false)]
    public void Matches(string selector, bool expected) =>
        Assert.Equal(expected, LabelSelector.Parse(selector).Matches(Labels));

    [Theory]
    [InlineData("app in web", "expected '(' after in/notin")]
    [InlineData("app in (a", "missing ')'")]
    [InlineData("=x", "expected a label key")]
    [InlineData("app=web env=prod", "expected ','")]
    [InlineData("app<3", "unexpected '<'")]
    public void Malformed_selectors_say_what_is_wrong(string selector, string why)
    {
        var e = Assert.Throws<ApiError>(() => LabelSelector.Parse(selector));
        Assert.Equal(400, e.Code);
        Assert.Contains(why, e.Message);
    }
}
