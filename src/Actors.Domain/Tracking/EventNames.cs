namespace Actors.Domain.Tracking;

/// <summary>The versioned catalogue of stored event names (version 1 of each).</summary>
public static class EventNames
{
    public const string PageViewed = "page_viewed";
    public const string ProductViewed = "product_viewed";
    public const string CategoryViewed = "category_viewed";
    public const string ProductsSearched = "products_searched";
    public const string CartItemAdded = "cart_item_added";
    public const string CartItemRemoved = "cart_item_removed";
    public const string CheckoutStarted = "checkout_started";
    public const string OrderPlaced = "order_placed";
    public const string OrderRefunded = "order_refunded";
    public const string Registered = "registered";
    public const string Identified = "identified";
    public const string NewsletterSubscribed = "newsletter_subscribed";
    public const string NewsletterUnsubscribed = "newsletter_unsubscribed";
    public const string PreferencesUpdated = "preferences_updated";
    public const string ConsentGiven = "consent_given";
    public const string ConsentWithdrawn = "consent_withdrawn";
    public const string AttributesUpdated = "attributes_updated";
    public const string BehaviourTracked = "behaviour_tracked";
    public const string StageChanged = "stage_changed";
    public const string ProfilesMerged = "profiles_merged";
    public const string MergedInto = "merged_into";
    public const string SegmentEntered = "segment_entered";
    public const string SegmentLeft = "segment_left";
    public const string DeviceLinked = "device_linked";
    public const string DeviceUnlinked = "device_unlinked";
    public const string ForwardingChanged = "forwarding_changed";
    public const string ProfilesUnmerged = "profiles_unmerged";
    public const string MergeUndone = "merge_undone";
    public const string JourneyEntered = "journey_entered";
    public const string JourneyStepTaken = "journey_step_taken";
    public const string MessageDecided = "message_decided";
    public const string JourneyGoalReached = "journey_goal_reached";
    public const string JourneyExited = "journey_exited";
    public const string JourneyVersionChanged = "journey_version_changed";
    public const string MessageSent = "message_sent";
    public const string MessageDelivered = "message_delivered";
    public const string MessageBounced = "message_bounced";
    public const string MessageFailed = "message_failed";
    public const string MessageOpened = "message_opened";
    public const string MessageClicked = "message_clicked";
    public const string MessageDismissed = "message_dismissed";
    public const string PushSubscribed = "push_subscribed";
    public const string PushUnsubscribed = "push_unsubscribed";
    public const string ProfileErased = "profile_erased";

    private static readonly Dictionary<Type, string> ByType = new()
    {
        [typeof(PageViewed)] = PageViewed,
        [typeof(ProductViewed)] = ProductViewed,
        [typeof(CategoryViewed)] = CategoryViewed,
        [typeof(ProductsSearched)] = ProductsSearched,
        [typeof(CartItemAdded)] = CartItemAdded,
        [typeof(CartItemRemoved)] = CartItemRemoved,
        [typeof(CheckoutStarted)] = CheckoutStarted,
        [typeof(OrderPlaced)] = OrderPlaced,
        [typeof(OrderRefunded)] = OrderRefunded,
        [typeof(Registered)] = Registered,
        [typeof(Identified)] = Identified,
        [typeof(NewsletterSubscribed)] = NewsletterSubscribed,
        [typeof(NewsletterUnsubscribed)] = NewsletterUnsubscribed,
        [typeof(PreferencesUpdated)] = PreferencesUpdated,
        [typeof(ConsentGiven)] = ConsentGiven,
        [typeof(ConsentWithdrawn)] = ConsentWithdrawn,
        [typeof(AttributesUpdated)] = AttributesUpdated,
        [typeof(BehaviourTracked)] = BehaviourTracked,
        [typeof(StageChanged)] = StageChanged,
        [typeof(ProfilesMerged)] = ProfilesMerged,
        [typeof(MergedInto)] = MergedInto,
        [typeof(SegmentEntered)] = SegmentEntered,
        [typeof(SegmentLeft)] = SegmentLeft,
        [typeof(DeviceLinked)] = DeviceLinked,
        [typeof(DeviceUnlinked)] = DeviceUnlinked,
        [typeof(ForwardingChanged)] = ForwardingChanged,
        [typeof(ProfilesUnmerged)] = ProfilesUnmerged,
        [typeof(MergeUndone)] = MergeUndone,
        [typeof(JourneyEntered)] = JourneyEntered,
        [typeof(JourneyStepTaken)] = JourneyStepTaken,
        [typeof(MessageDecided)] = MessageDecided,
        [typeof(JourneyGoalReached)] = JourneyGoalReached,
        [typeof(JourneyExited)] = JourneyExited,
        [typeof(JourneyVersionChanged)] = JourneyVersionChanged,
        [typeof(MessageSent)] = MessageSent,
        [typeof(MessageDelivered)] = MessageDelivered,
        [typeof(MessageBounced)] = MessageBounced,
        [typeof(MessageFailed)] = MessageFailed,
        [typeof(MessageOpened)] = MessageOpened,
        [typeof(MessageClicked)] = MessageClicked,
        [typeof(MessageDismissed)] = MessageDismissed,
        [typeof(PushSubscribed)] = PushSubscribed,
        [typeof(PushUnsubscribed)] = PushUnsubscribed,
        [typeof(ProfileErased)] = ProfileErased,
    };

    public static IReadOnlyCollection<Type> EventTypes => ByType.Keys;

    public static string Of(Type eventType) =>
        ByType.TryGetValue(eventType, out var name) ? name : throw new ArgumentException($"{eventType.Name} is not in the event catalogue.", nameof(eventType));

    public static string Of(VisitorEvent e) => Of(e.GetType());
}
