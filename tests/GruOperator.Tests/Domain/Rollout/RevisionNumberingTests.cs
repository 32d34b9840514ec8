using GruOperator.Domain.Rollout;

namespace GruOperator.Tests.Domain.Rollout;

public sealed class RevisionNumberingTests
{
    [Theory]
    [InlineData(new[] { "3" }, "4")]
    [InlineData(new[] { "3", "4", "5" }, "6")]
    [InlineData(new[] { "5", null, "3" }, "6")]
    [InlineData(new string?[] { }, "1")]
    [InlineData(new[] { "x", "" }, "1")]
    [InlineData(new[] { "-7", "2" }, "3")]
    public void A_new_model_gets_one_more_than_any_revision_used(string?[] used, string expected) =>
        Assert.Equal(expected, RevisionPolicy.After(used));
}
