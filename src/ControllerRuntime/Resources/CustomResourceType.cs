namespace ControllerRuntime.Resources;

/// <summary>Where a custom resource lives in the API: group, version, plural, kind.</summary>
public sealed record CustomResourceType(string Group, string Version, string Plural, string Kind)
{
    /// <summary>"group/version", as in apiVersion.</summary>
    public string ApiVersion => Group + "/" + Version;
}
