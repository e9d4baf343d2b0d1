using System.Globalization;
using Fluid.Ast;
using Fluid.Values;

namespace Actors.Channels.Templates;

/// <summary>
/// Walks a parsed template and reports every name it cannot resolve: a variable that is not documented (with the
/// nearest documented one), a member a value does not have, a filter Fluid does not know, a range that is not a
/// small constant, and tags that would reach outside the template (include, render). Walking the syntax, not a render,
/// finds mistakes in branches a sample visitor would not take.
/// </summary>
internal sealed class TemplateNames : AstVisitor
{
    public const int MaxRange = 1000;
    private const int MaxReported = 20;

    private readonly HashSet<string> _locals;
    private readonly List<Dictionary<string, Shape>> _loops = [];
    private readonly List<string> _errors = [];

    private TemplateNames(HashSet<string> locals) => _locals = locals;

    /// <summary>The problems of one part, in the order they appear.</summary>
    public static IReadOnlyList<string> Check(Fluid.IFluidTemplate template)
    {
        // Liquid's assign and capture are not block-scoped: a name assigned anywhere is the template's own everywhere.
        var locals = new Locals();
        locals.VisitTemplate(template);
        var walker = new TemplateNames(locals.Names);
        walker.VisitTemplate(template);
        return walker._errors;
    }

    private void Report(string message)
    {
        if (_errors.Count < MaxReported && !_errors.Contains(message)) _errors.Add(message);
    }

    protected override Expression VisitMemberExpression(MemberExpression memberExpression)
    {
        Resolve(memberExpression);
        foreach (var segment in memberExpression.Segments)
            if (segment is IndexerSegment indexer) Visit(indexer.Expression);
        return memberExpression;
    }

    protected override Expression VisitFilterExpression(FilterExpression filterExpression)
    {
        if (!Liquid.HasFilter(filterExpression.Name)) Report($"unknown filter '{filterExpression.Name}'");
        return base.VisitFilterExpression(filterExpression);
    }

    protected override Expression VisitRangeExpression(RangeExpression rangeExpression)
    {
        if (Constant(rangeExpression.From) is not { } from || Constant(rangeExpression.To) is not { } to || Math.Abs(to - from) >= MaxRange)
            Report($"a range must have number bounds at most {MaxRange} apart, such as (1..5)");
        return base.VisitRangeExpression(rangeExpression);
    }

    protected override Statement VisitForStatement(ForStatement forStatement)
    {
        var source = forStatement.Source ?? forStatement.Range;
        if (source is not null) Visit(source);
        if (forStatement.Limit is not null) Visit(forStatement.Limit);
        if (forStatement.Offset is not null) Visit(forStatement.Offset);
        _loops.Add(new Dictionary<string, Shape>(StringComparer.Ordinal)
        {
            [forStatement.Identifier] = ItemOf(source), ["forloop"] = TemplateVariables.ForLoop,
        });
        foreach (var statement in forStatement.Statements) Visit(statement);
        _loops.RemoveAt(_loops.Count - 1);
        if (forStatement.Else is not null) Visit(forStatement.Else);
        return forStatement;
    }

    protected override Statement VisitTableRowStatement(TableRowStatement tableRowStatement)
    {
        foreach (var e in new[] { tableRowStatement.Source, tableRowStatement.Limit, tableRowStatement.Offset, tableRowStatement.Cols })
            if (e is not null) Visit(e);
        _loops.Add(new Dictionary<string, Shape>(StringComparer.Ordinal)
        {
            [tableRowStatement.Identifier] = ItemOf(tableRowStatement.Source), ["tablerowloop"] = TemplateVariables.TableRowLoop,
        });
        foreach (var statement in tableRowStatement.Statements) Visit(statement);
        _loops.RemoveAt(_loops.Count - 1);
        return tableRowStatement;
    }

    protected override Statement VisitIncludeStatement(IncludeStatement includeStatement)
    {
        Report("the include tag is not available: a template is one text");
        return includeStatement;
    }

    protected override Statement VisitRenderStatement(RenderStatement renderStatement)
    {
        Report("the render tag is not available: a template is one text");
        return renderStatement;
    }

    /// <summary>What a loop variable is: a cart line, a category, a number of a range, or anything for a local list.</summary>
    private Shape ItemOf(Expression? source) => source switch
    {
        RangeExpression => Shape.Text,
        MemberExpression m => Resolve(m) switch
        {
            Shape.List list => list.Item,
            Shape.Scalar => Shape.Text,
            _ => Shape.Anything,
        },
        _ => Shape.Anything,
    };

    /// <summary>The shape the expression reaches, or null (reported) when it names something that is not there.</summary>
    private Shape? Resolve(MemberExpression member)
    {
        if (member.Segments.Count == 0 || member.Segments[0] is not IdentifierSegment { Identifier: var root }) return Shape.Anything;
        Shape? shape = null;
        for (var i = _loops.Count - 1; i >= 0 && shape is null; i--) _loops[i].TryGetValue(root, out shape);
        if (shape is null && _locals.Contains(root)) shape = Shape.Anything;
        if (shape is null) TemplateVariables.Roots.TryGetValue(root, out shape);
        if (shape is null)
        {
            Report(Unknown(root, Text(member, member.Segments.Count)));
            return null;
        }
        for (var i = 1; i < member.Segments.Count; i++)
        {
            var next = Member(shape, member.Segments[i]);
            if (next is null)
            {
                var written = Text(member, i + 1);
                Report(shape is Shape.Object
                    ? Unknown(root, written)
                    : $"'{Text(member, i)}' has no member '{SegmentText(member.Segments[i])}' (in '{written}')");
                return null;
            }
            shape = next;
        }
        return shape;
    }

    private static Shape? Member(Shape shape, MemberSegment segment)
    {
        var name = segment switch
        {
            IdentifierSegment s => s.Identifier,
            IndexerSegment { Expression: LiteralExpression { Value: StringValue v } } => v.ToStringValue(),
            IndexerSegment => null, // a computed index: an item of a list, an entry of a map, unknown otherwise
            _ => "",
        };
        return shape switch
        {
            Shape.Any => Shape.Anything,
            Shape.Map => Shape.Text, // any attribute name; a missing one is empty
            Shape.List list => name switch
            {
                null => list.Item,
                "size" => Shape.Text,
                "first" or "last" => list.Item,
                _ => null,
            },
            Shape.Object obj => name is null ? Shape.Anything
                : obj.Members.TryGetValue(name, out var member) ? member
                : name == "size" ? Shape.Text : null,
            Shape.Scalar => name is "size" ? Shape.Text : null,
            _ => null,
        };
    }

    private string Unknown(string root, string written)
    {
        var known = TemplateVariables.Suggestions.Concat(_locals).Concat(_loops.SelectMany(l => l.Keys));
        var nearest = known.Select(k => (Name: k, Distance: Distance(k, written))).OrderBy(k => k.Distance).ThenBy(k => k.Name, StringComparer.Ordinal).FirstOrDefault();
        var hint = nearest.Name is not null && nearest.Distance <= Math.Max(2, written.Length / 3) ? $"; did you mean {nearest.Name}?" : "";
        return $"unknown variable '{written}'{hint}";
    }

    private static string Text(MemberExpression member, int count)
    {
        var text = new System.Text.StringBuilder();
        for (var i = 0; i < count && i < member.Segments.Count; i++)
        {
            var segment = member.Segments[i];
            if (segment is IdentifierSegment && i > 0) text.Append('.');
            text.Append(SegmentText(segment));
        }
        return text.ToString();
    }

    private static string SegmentText(MemberSegment segment) => segment switch
    {
        IdentifierSegment s => s.Identifier,
        IndexerSegment { Expression: LiteralExpression { Value: StringValue v } } => $"[\"{v.ToStringValue()}\"]",
        IndexerSegment { Expression: LiteralExpression { Value: NumberValue n } } => $"[{n.ToNumberValue().ToString(CultureInfo.InvariantCulture)}]",
        IndexerSegment => "[…]",
        _ => "(…)",
    };

    private static decimal? Constant(Expression expression) =>
        expression is LiteralExpression { Value: NumberValue n } ? n.ToNumberValue() : null;

    /// <summary>Levenshtein distance, for "did you mean".</summary>
    private static int Distance(string a, string b)
    {
        if (a.Length > 200 || b.Length > 200) return int.MaxValue;
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    /// <summary>The template's own names: assign and capture (increment counters live apart, as in Shopify's Liquid).</summary>
    private sealed class Locals : AstVisitor
    {
        public HashSet<string> Names { get; } = new(StringComparer.Ordinal);

        protected override Statement VisitAssignStatement(AssignStatement assignStatement)
        {
            Names.Add(assignStatement.Identifier);
            return base.VisitAssignStatement(assignStatement);
        }

        protected override Statement VisitCaptureStatement(CaptureStatement captureStatement)
        {
            Names.Add(captureStatement.Identifier);
            return base.VisitCaptureStatement(captureStatement);
        }
    }
}
